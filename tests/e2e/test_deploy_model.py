"""deploy-model end to end through the real CLI: the reference solution lands in its band,
the untouched starter in its own, and the JSON document has the documented fields."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.conftest import BUILTIN

pytestmark = [pytest.mark.docker, pytest.mark.e2e]
FIELDS = {"run_id", "challenge", "status", "score", "competencies", "graders", "integrity"}
GRADER_FIELDS = {"name", "kind", "score", "weight", "passed", "summary", "evidence"}


def run_json(*args: str, data_dir) -> dict:
    env = {**os.environ, "PRODPROVEN_DATA_DIR": str(data_dir)}
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            "from runner.cli import main; main()",
            "run",
            "deploy-model",
            "--json",
            *args,
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout)


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("e2e")


def test_reference_solution_scores_at_least_90(data_dir):
    doc = run_json("--submission", str(BUILTIN / "deploy-model" / "solution"), data_dir=data_dir)
    assert doc.keys() >= FIELDS and doc["status"] == "graded"
    assert all(g.keys() >= GRADER_FIELDS for g in doc["graders"])
    assert doc["score"] >= 90, json.dumps(doc["graders"], indent=1)[:3000]
    assert set(doc["competencies"]) == {"deployment", "optimization"}
    load = next(g for g in doc["graders"] if g["name"] == "load")
    assert load["evidence"]["p95_ms"] < 100 and load["evidence"]["series"]


def test_untouched_starter_scores_at_most_40(data_dir):
    doc = run_json(data_dir=data_dir)
    assert doc["status"] == "graded"
    assert doc["score"] <= 40, json.dumps(doc["graders"], indent=1)[:3000]
    robustness = next(g for g in doc["graders"] if g["name"] == "robustness")
    assert robustness["evidence"]["failing"], "the starter has no input validation"
