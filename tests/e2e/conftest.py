"""End-to-end runs go through the real CLI in a subprocess, as a user's script would."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

FIELDS = {"run_id", "challenge", "status", "score", "competencies", "graders", "integrity"}
GRADER_FIELDS = {"name", "kind", "score", "weight", "passed", "summary", "evidence"}


def run_json(challenge: str, *args: str, data_dir: Path) -> dict:
    """``prodproven run CHALLENGE --json ARGS`` in a subprocess; its parsed stdout."""
    env = {**os.environ, "PRODPROVEN_DATA_DIR": str(data_dir)}
    proc = subprocess.run(
        [sys.executable, "-c", "from runner.cli import main; main()", "run", challenge, "--json"]
        + list(args),
        capture_output=True,
        text=True,
        env=env,
        timeout=1200,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout)


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("e2e")
