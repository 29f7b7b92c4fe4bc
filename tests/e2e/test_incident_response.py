"""incident-response end to end through the real CLI: the reference responder restores the
service and writes a correct postmortem (one fault here; `challenge validate` covers every
fault), and doing nothing lands in the starter's band."""

from __future__ import annotations

import json

import pytest

from tests.conftest import BUILTIN
from tests.e2e.conftest import FIELDS, run_json

pytestmark = [pytest.mark.docker, pytest.mark.e2e]


def grader(doc: dict, kind: str) -> dict:
    return next(g for g in doc["graders"] if g["kind"] == kind)


def test_reference_responder_mitigates_a_bad_model_rollout_and_scores_at_least_90(data_dir):
    solution = str(BUILTIN / "incident-response" / "solution")
    doc = run_json(
        "incident-response",
        "--submission",
        solution,
        "--fault",
        "bad-model-rollout",
        data_dir=data_dir,
    )
    assert doc.keys() >= FIELDS and doc["status"] == "graded"
    assert doc["score"] >= 90, json.dumps(doc["graders"], indent=1)[:4000]
    incident = grader(doc, "incident")["evidence"]["incidents"][0]
    assert incident["fault"] == "bad-model-rollout"
    assert incident["broke_after_s"] is not None  # the prober saw the wrong answers
    assert incident["time_to_mitigate_s"] < 60 and incident["healthy_at_end"]
    postmortem = grader(doc, "postmortem")["evidence"]
    assert postmortem["claimed"]["root_cause"] == "bad_model_rollout"
    assert doc["integrity"] == []


def test_doing_nothing_scores_at_most_20(data_dir):
    doc = run_json("incident-response", data_dir=data_dir)
    assert doc["status"] == "graded"
    assert doc["score"] <= 20, json.dumps(doc["graders"], indent=1)[:4000]
    assert grader(doc, "incident")["evidence"]["incidents"][0]["time_to_mitigate_s"] is None
    assert "missing" in grader(doc, "postmortem")["summary"]
