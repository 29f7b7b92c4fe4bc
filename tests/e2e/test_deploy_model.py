"""deploy-model through the real CLI's gate, `challenge validate`: the reference solution
lands in its band, the untouched starter in its own, every cheat that applies scores 0 on what
it attacks, the graders are steady, and the run documents have the documented fields."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import (
    FIELDS,
    GRADER_FIELDS,
    check,
    failures,
    ladder,
    show_json,
    validate_json,
)

# timing: its load graders measure latency (infra/dev.sh runs it alone).
pytestmark = [pytest.mark.docker, pytest.mark.e2e, pytest.mark.timing]


@pytest.fixture(scope="module")
def verdict(data_dir: Path) -> dict[str, Any]:
    return validate_json("deploy-model", data_dir)


def test_the_gate_passes(verdict: dict[str, Any]) -> None:
    assert verdict["ok"], failures(verdict)


def test_the_reference_run_has_the_documented_fields_and_meets_the_slo(
    verdict: dict[str, Any], data_dir: Path
) -> None:
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


def test_the_sound_submission_with_a_minor_flaw_passes_with_85_or_more(
    verdict: dict[str, Any],
) -> None:
    minor = ladder(verdict)["minor-flaw"]
    assert minor["ok"] and minor["passed"] is True and minor["score"] >= 85


@pytest.mark.parametrize("name", ["slo-breach", "fragile"])
def test_a_submission_missing_a_requirement_does_not_pass_and_scores_below_the_pass_line(
    verdict: dict[str, Any], name: str, data_dir: Path
) -> None:
    found = ladder(verdict)[name]
    assert found["ok"] and found["passed"] is False and found["score"] < 70
    doc = show_json(found["run_id"], data_dir)
    assert [r["name"] for r in doc["requirements"] if not r["met"]]


def test_the_slo_breach_misses_only_latency_slos_and_says_by_how_much(
    verdict: dict[str, Any], data_dir: Path
) -> None:
    """Correct and safe, but slow: its reload stalls (about 280 ms each) break the 25 req/s
    SLO and, in a grading where enough batches land in them, the batch SLO as well."""
    doc = show_json(ladder(verdict)["slo-breach"]["run_id"], data_dir)
    missed = {r["name"]: r["detail"] for r in doc["requirements"] if not r["met"]}
    assert "SLO met at 25 req/s" in missed
    assert set(missed) <= {"SLO met at 25 req/s", "Batch SLO met at 4 req/s"}
    assert "> SLO 100 ms" in missed["SLO met at 25 req/s"]


def test_the_fragile_service_misses_the_malformed_input_requirement(
    verdict: dict[str, Any], data_dir: Path
) -> None:
    doc = show_json(ladder(verdict)["fragile"]["run_id"], data_dir)
    missed = {r["name"] for r in doc["requirements"] if not r["met"]}
    assert "Malformed input never gets a 5xx or a dropped connection" in missed


def test_the_ladder_lands_in_the_declared_order(verdict: dict[str, Any]) -> None:
    assert check(verdict, "order")["ok"]


def test_the_starter_answers_right_but_has_no_input_validation(
    verdict: dict[str, Any], data_dir: Path
) -> None:
    doc = show_json(check(verdict, "starter")["run_id"], data_dir)
    robustness = next(g for g in doc["graders"] if g["name"] == "robustness")
    assert robustness["evidence"]["failing"], "the starter has no input validation"


@pytest.mark.parametrize("cheat", ["hidden-paths", "network", "hard-coded"])
def test_a_service_cheat_ran_and_scored_zero_everywhere(
    verdict: dict[str, Any], cheat: str
) -> None:
    found = check(verdict, cheat)
    assert not found["skipped"] and found["ok"]
    assert {o["score"] for o in found["attacked"].values()} == {0.0}
    assert found["oracle_hits"] == []


def test_the_ci_tier_leaves_the_noise_gradings_to_the_release_tier(verdict: dict[str, Any]) -> None:
    assert check(verdict, "noise")["skipped"]  # tests/release/test_gates.py grades them
