"""deploy-model through the real CLI's gate, `challenge validate`: the reference solution
lands in its band, the untouched starter in its own, every cheat that applies scores 0 on what
it attacks, the graders are steady, and the run documents have the documented fields."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import (
    FIELDS,
    GRADER_FIELDS,
    check,
    cli_json,
    failures,
    ladder,
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
    assert doc["passed"] is True and all(r["met"] for r in doc["requirements"])
    low, high = doc["uncertainty"]["interval"]
    assert (
        low <= doc["score"] <= high
        and "within-run repeats of load" in (doc["uncertainty"]["basis"])
    )


def test_the_sound_submission_with_a_minor_flaw_passes_with_85_or_more(verdict):
    minor = ladder(verdict)["minor-flaw"]
    assert minor["ok"] and minor["passed"] is True and minor["score"] >= 85


@pytest.mark.parametrize("name", ["slo-breach", "fragile"])
def test_a_submission_missing_a_requirement_does_not_pass_and_scores_below_the_pass_line(
    verdict, name, data_dir
):
    found = ladder(verdict)[name]
    assert found["ok"] and found["passed"] is False and found["score"] < 70
    doc = show_json(found["run_id"], data_dir)
    assert [r["name"] for r in doc["requirements"] if not r["met"]]


def test_the_slo_breach_misses_exactly_the_slo_and_says_by_how_much(verdict, data_dir):
    doc = show_json(ladder(verdict)["slo-breach"]["run_id"], data_dir)
    missed = [r for r in doc["requirements"] if not r["met"]]
    assert [r["name"] for r in missed] == ["SLO met at 25 req/s"]
    assert "> SLO 100 ms" in missed[0]["detail"]


def test_the_fragile_service_misses_the_malformed_input_requirement(verdict, data_dir):
    doc = show_json(ladder(verdict)["fragile"]["run_id"], data_dir)
    missed = {r["name"] for r in doc["requirements"] if not r["met"]}
    assert "Malformed input never gets a 5xx or a dropped connection" in missed


def test_the_ladder_lands_in_the_declared_order(verdict):
    assert check(verdict, "order")["ok"]


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


def test_later_gradings_carry_the_gates_regrading_spread(verdict, data_dir):
    again = cli_json("grade", check(verdict, "reference")["run_id"], "--json", data_dir=data_dir)
    assert "re-grading spread from the gate (3 gradings" in again["uncertainty"]["basis"]
