"""review-ai-change through the real CLI's gate, `challenge validate`: the scripted reference
reviewer finds and fixes the seeded defects of the variant, leaves the decoys alone, calls out
the false claims and passes with 90 or more; the untouched starter scores near 0; each
calibration submission lands as a practitioner would conclude; a review that flags every
changed line is caught. (How long grading takes is a benchmark: benchmarks/run.py --only
review.)"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import (
    FIELDS,
    GRADER_FIELDS,
    check,
    failures,
    grader,
    ladder,
    show_json,
    validate_json,
)

pytestmark = [pytest.mark.docker, pytest.mark.e2e]

BLOCKERS = "Every blocker found in the review or fixed"
FEATURE = "The feature's tests pass on ai/change"


@pytest.fixture(scope="module")
def verdict(data_dir: Path) -> dict[str, Any]:
    return validate_json("review-ai-change", data_dir, "--jobs", "2")


def missed(doc: dict[str, Any]) -> list[str]:
    return [r["name"] for r in doc["requirements"] if not r["met"]]


def reference(verdict: dict[str, Any], data_dir: Path) -> dict[str, Any]:
    return show_json(check(verdict, "reference")["run_id"], data_dir)


def test_the_gate_passes(verdict: dict[str, Any]) -> None:
    assert verdict["ok"], failures(verdict)


def test_the_reference_passes_with_90_or_more_meeting_every_requirement(
    verdict: dict[str, Any], data_dir: Path
) -> None:
    doc = reference(verdict, data_dir)
    assert doc.keys() >= FIELDS and doc["status"] == "graded"
    assert all(g.keys() >= GRADER_FIELDS for g in doc["graders"])
    assert doc["passed"] is True and doc["score"] >= 90 and missed(doc) == []
    assert set(doc["competencies"]) == {"ai_judgment"}


def test_the_references_evidence_accounts_for_every_defect_decoy_and_claim(
    verdict: dict[str, Any], data_dir: Path
) -> None:
    doc = reference(verdict, data_dir)
    review = grader(doc, "review")["evidence"]
    assert review["defects"] and all(d["found"] for d in review["defects"])
    assert len(review["decoys"]) >= 2 and not any(d["flagged"] for d in review["decoys"])
    fixes = grader(doc, "fixes")["evidence"]
    assert fixes["defects"] and all(d["fixed"] for d in fixes["defects"])
    claims = grader(doc, "claims")["evidence"]["claims"]
    false = [c for c in claims if not c["holds"]]
    assert false and all(c["called_out"] for c in false)
    assert not any(c["called_out"] for c in claims if c["holds"])


def test_the_untouched_starter_scores_10_or_less_and_misses_the_blockers(
    verdict: dict[str, Any], data_dir: Path
) -> None:
    found = check(verdict, "starter")
    assert found["ok"] and found["score"] <= 10 and found["passed"] is False
    assert BLOCKERS in missed(show_json(found["run_id"], data_dir))


def test_a_careful_review_that_misses_the_minor_defect_passes_below_the_reference(
    verdict: dict[str, Any], data_dir: Path
) -> None:
    found = ladder(verdict)["careful-misses-minor"]
    assert found["ok"] and found["passed"] is True
    assert found["score"] < check(verdict, "reference")["score"]
    review = grader(show_json(found["run_id"], data_dir), "review")["evidence"]
    assert [d["severity"] for d in review["defects"] if not d["found"]] == ["minor"]
    assert [d["severity"] for d in review["defects"] if d["found"]].count("minor") >= 1


def test_fixing_everything_without_a_review_is_partial_and_does_not_pass(
    verdict: dict[str, Any], data_dir: Path
) -> None:
    found = ladder(verdict)["fixes-no-review"]
    assert found["ok"] and found["passed"] is False
    doc = show_json(found["run_id"], data_dir)
    assert missed(doc) == [] and grader(doc, "fixes")["score"] == 1.0
    assert grader(doc, "review")["score"] == 0.0


def test_approving_lets_the_blockers_through(verdict: dict[str, Any], data_dir: Path) -> None:
    found = ladder(verdict)["approve-looks-good"]
    assert found["ok"] and found["passed"] is False
    assert BLOCKERS in missed(show_json(found["run_id"], data_dir))


def test_reverting_the_pull_request_fixes_nothing_and_breaks_the_feature(
    verdict: dict[str, Any], data_dir: Path
) -> None:
    found = ladder(verdict)["revert"]
    assert found["ok"] and found["passed"] is False
    doc = show_json(found["run_id"], data_dir)
    assert FEATURE in missed(doc) and grader(doc, "fixes")["score"] == 0.0


def test_the_ladder_lands_in_the_declared_order(verdict: dict[str, Any]) -> None:
    assert check(verdict, "order")["ok"]


def test_a_reviewer_flagging_every_changed_line_does_not_pass(
    verdict: dict[str, Any], data_dir: Path
) -> None:
    found = ladder(verdict)["flags-every-line"]
    assert found["ok"] and found["passed"] is False and found["score"] <= 20
    review = grader(show_json(found["run_id"], data_dir), "review")
    assert review["score"] == 0.0 and review["evidence"]["precision"] < 0.25


def test_the_flag_everything_cheat_scores_zero_on_review_with_a_finding(
    verdict: dict[str, Any], data_dir: Path
) -> None:
    found = check(verdict, "flag-everything")
    assert not found["skipped"] and found["ok"]
    assert found["attacked"]["review"]["score"] == 0.0
    doc = show_json(found["run_id"], data_dir)
    assert any(f["kind"] == "shotgun_review" for f in doc["integrity"])
