"""fix-drift end to end through the real CLI: the reference solution (a finished notebook and
a retrained model registered in the run's MLflow) lands in its band, the untouched starter in
its own, and nothing the reference claims is flagged."""

from __future__ import annotations

import json

import pytest

from tests.conftest import BUILTIN
from tests.e2e.conftest import FIELDS, run_json

pytestmark = [pytest.mark.docker, pytest.mark.e2e]


def grader(doc: dict, kind: str) -> dict:
    return next(g for g in doc["graders"] if g["kind"] == kind)


def test_reference_solution_scores_at_least_90(data_dir):
    solution = str(BUILTIN / "fix-drift" / "solution")
    doc = run_json("fix-drift", "--submission", solution, data_dir=data_dir)
    assert doc.keys() >= FIELDS and doc["status"] == "graded"
    assert doc["score"] >= 90, json.dumps(doc["graders"], indent=1)[:4000]
    assert doc["integrity"] == []
    model = grader(doc, "mlflow_model")["evidence"]
    assert model["measured_auc"] > model["baseline_auc"] and model["honest"]
    notebook = grader(doc, "notebook")["evidence"]
    assert notebook["expectations"][0]["score"] == 1.0


def test_untouched_starter_scores_at_most_30(data_dir):
    doc = run_json("fix-drift", data_dir=data_dir)
    assert doc["status"] == "graded"
    assert doc["score"] <= 30, json.dumps(doc["graders"], indent=1)[:4000]
    assert "still serves the old champion" in grader(doc, "mlflow_model")["summary"]
