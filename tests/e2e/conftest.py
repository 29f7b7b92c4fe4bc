"""End-to-end runs go through the real CLI in a subprocess, as a user's script would."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from prodproven.runner.grading.result import RESULT_FIELDS

FIELDS = set(RESULT_FIELDS)
GRADER_FIELDS = {"name", "kind", "score", "weight", "passed", "summary", "evidence"}


def cli_json(
    *args: str, data_dir: Path, codes: tuple[int, ...] = (0,), timeout: float = 1200
) -> dict[str, Any]:
    """``prodproven ARGS`` in a subprocess; its stdout, a JSON object (the exit code one of
    ``codes``)."""
    env = {**os.environ, "PRODPROVEN_DATA_DIR": str(data_dir)}
    proc = subprocess.run(
        [sys.executable, "-m", "prodproven.runner.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
    )
    assert proc.returncode in codes, proc.stderr[-3000:]
    doc = json.loads(proc.stdout)
    assert isinstance(doc, dict), proc.stdout[:3000]
    return doc


def run_json(challenge: str, *args: str, data_dir: Path) -> dict[str, Any]:
    """``prodproven run CHALLENGE --json ARGS``."""
    return cli_json("run", challenge, "--json", *args, data_dir=data_dir)


def validate_json(challenge: str, data_dir: Path, *args: str, tier: str = "ci") -> dict[str, Any]:
    """``prodproven challenge validate CHALLENGE --json --tier TIER ARGS``: the verdict, passed
    or not. CI runs the ``ci`` tier; tests/release runs the ``release`` tier."""
    return cli_json(
        "challenge",
        "validate",
        challenge,
        "--json",
        "--tier",
        tier,
        *args,
        data_dir=data_dir,
        codes=(0, 1),
        timeout=3600,
    )


def show_json(run_id: str, data_dir: Path) -> dict[str, Any]:
    return cli_json("show", run_id, "--json", data_dir=data_dir)


def grader(doc: dict[str, Any], kind: str) -> dict[str, Any]:
    """The first grader of ``kind`` in a run document."""
    return next(g for g in doc["graders"] if g["kind"] == kind)


def check(verdict: dict[str, Any], label: str) -> dict[str, Any]:
    return next(c for c in verdict["checks"] if c["label"] == label)


def ladder(verdict: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The calibration checks of a verdict by submission name."""
    return {c["label"]: c for c in verdict["checks"] if c["section"] == "calibration"}


def failures(verdict: dict[str, Any]) -> str:
    """The failed checks, for an assertion message."""
    return json.dumps([c for c in verdict["checks"] if not c["ok"]], indent=1)[:4000]


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("e2e")
