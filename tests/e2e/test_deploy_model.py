"""deploy-model through the real CLI's gate, `challenge validate`: the reference solution
lands in its band, the untouched starter in its own, every cheat that applies scores 0 on what
it attacks, the graders are steady, and the run documents have the documented fields."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import (
    FIELDS,
    GRADER_FIELDS,
    check,
    failures,
    show_json,
    validate_json,
)

pytestmark = [pytest.mark.docker, pytest.mark.e2e]


@pytest.fixture(scope="module")
def verdict(data_dir):
    return validate_json("deploy-model", data_dir)


def test_the_gate_passes(verdict):
    assert verdict["ok"], failures(verdict)


def test_the_reference_run_has_the_documented_fields_and_meets_the_slo(verdict, data_dir):
    doc = show_json(check(verdict, "reference")["run_id"], data_dir)
    assert doc.keys() >= FIELDS and doc["status"] == "graded"
    assert all(g.keys() >= GRADER_FIELDS for g in doc["graders"])
    assert set(doc["competencies"]) == {"deployment", "optimization"}
    load = next(g for g in doc["graders"] if g["name"] == "load")
    assert load["evidence"]["p95_ms"] < 100 and load["evidence"]["series"]


def test_the_starter_answers_right_but_has_no_input_validation(verdict, data_dir):
    doc = show_json(check(verdict, "starter")["run_id"], data_dir)
    robustness = next(g for g in doc["graders"] if g["name"] == "robustness")
    assert robustness["evidence"]["failing"], "the starter has no input validation"


@pytest.mark.parametrize("cheat", ["hidden-paths", "network", "hard-coded"])
def test_a_service_cheat_ran_and_scored_zero_everywhere(verdict, cheat):
    found = check(verdict, cheat)
    assert not found["skipped"] and found["ok"]
    assert {o["score"] for o in found["attacked"].values()} == {0.0}
    assert found["oracle_hits"] == []


def test_the_reference_was_graded_three_times_for_noise(verdict):
    noise = check(verdict, "noise")
    assert noise["repeats"] == 3 and len(noise["scores"]["load"]) == 3
