"""deploy-model end to end through the real CLI: the reference solution lands in its band,
the untouched starter in its own, and the JSON document has the documented fields."""

from __future__ import annotations

import json

import pytest

from tests.conftest import BUILTIN
from tests.e2e.conftest import FIELDS, GRADER_FIELDS, run_json

pytestmark = [pytest.mark.docker, pytest.mark.e2e]


def test_reference_solution_scores_at_least_90(data_dir):
    doc = run_json(
        "deploy-model",
        "--submission",
        str(BUILTIN / "deploy-model" / "solution"),
        data_dir=data_dir,
    )
    assert doc.keys() >= FIELDS and doc["status"] == "graded"
    assert all(g.keys() >= GRADER_FIELDS for g in doc["graders"])
    assert doc["score"] >= 90, json.dumps(doc["graders"], indent=1)[:3000]
    assert set(doc["competencies"]) == {"deployment", "optimization"}
    load = next(g for g in doc["graders"] if g["name"] == "load")
    assert load["evidence"]["p95_ms"] < 100 and load["evidence"]["series"]


def test_untouched_starter_scores_at_most_40(data_dir):
    doc = run_json("deploy-model", data_dir=data_dir)
    assert doc["status"] == "graded"
    assert doc["score"] <= 40, json.dumps(doc["graders"], indent=1)[:3000]
    robustness = next(g for g in doc["graders"] if g["name"] == "robustness")
    assert robustness["evidence"]["failing"], "the starter has no input validation"
