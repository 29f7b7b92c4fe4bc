"""The review grader: review.md's findings matched to the seeded defects and decoys of
reviewsupport.MANIFEST (blocker cache-race, major path-traversal, minor last-chunk; decoy
ffill), recall weighted 3/2/1, precision, F2, the verdict and the shotgun review."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from prodproven.graders import findings
from prodproven.graders.base import GraderError, GradeResult
from prodproven.graders.findings import Malformed, parse_review
from prodproven.graders.review import ReviewGrader, ReviewParams, f2
from prodproven.runner import plugins
from tests.unit.evaluationsupport import FakeEnv
from tests.unit.reviewsupport import (
    BATCH,
    CACHE,
    CATEGORIES,
    EVERY_DEFECT,
    MANIFEST,
    MODELS,
    finding,
    manifest,
    review_md,
)

PARAMS = ReviewParams(categories=CATEGORIES)
DECOY = finding("training/data.py", 31, "data_leakage")
STRAY = finding("service/api.py", 5, "silent_failure")


def graded(
    tmp_path: Path, review: bytes | None, params: ReviewParams = PARAMS, **changes: Any
) -> GradeResult:
    env = FakeEnv(tmp_path, hidden={"manifest.json": manifest(**changes)})
    if review is not None:
        env.workspace["review.md"] = review
    return ReviewGrader().grade(env, params)  # type: ignore[arg-type]


def verdict(result: GradeResult) -> tuple[bool, str]:
    check = ReviewGrader.conditions["verdict"].check(result, PARAMS)
    return check.met, check.detail


def test_the_review_grader_is_built_in() -> None:
    assert plugins.graders()["review"] is ReviewGrader


def test_every_defect_found_with_its_category_and_no_noise_scores_full(tmp_path: Path) -> None:
    got = graded(tmp_path, review_md(EVERY_DEFECT))
    assert (got.score, got.passed, got.findings) == (1.0, True, [])
    assert [d["found"] for d in got.evidence["defects"]] == [True, True, True]
    assert got.evidence["defects"][0]["by"]["finding"] == 1
    assert got.evidence["decoys"][0]["flagged"] is False
    assert got.summary == (
        "found 3 of 3 seeded defects (recall 1.00, precision 1.00), 0 decoy flags, "
        "0 unmatched; verdict request_changes (right): score 1.00"
    )
    assert verdict(got) == (True, "verdict request_changes, as the seeded defects call for")


def test_f2_weighs_recall_four_times_precision() -> None:
    assert f2(1.0, 0.5) == pytest.approx(5 * 0.5 / 4.5)
    assert f2(0.5, 1.0) == pytest.approx(5 * 0.5 / 3.0)
    assert f2(0.0, 0.0) == 0.0


def test_recall_is_weighted_by_the_seeded_severity(tmp_path: Path) -> None:
    got = graded(tmp_path, review_md([CACHE, BATCH]))  # 3 + 1 of 6
    assert got.evidence["recall"] == pytest.approx(4 / 6, abs=1e-4)
    assert got.evidence["precision"] == 1.0
    assert got.score == pytest.approx(f2(1.0, 4 / 6), abs=1e-4)
    missed = got.evidence["defects"][1]
    assert (missed["id"], missed["found"], missed["credit"]) == ("path-traversal", False, 0.0)


def test_a_defect_found_under_another_category_earns_half(tmp_path: Path) -> None:
    wrong = finding("service/cache.py", 42, "resource_leak", "blocker")
    got = graded(tmp_path, review_md([wrong, MODELS, BATCH]))
    assert got.evidence["defects"][0]["credit"] == 0.5
    assert got.evidence["recall"] == pytest.approx((1.5 + 2 + 1) / 6, abs=1e-4)


@pytest.mark.parametrize(("line", "found"), [(37, True), (36, False), (50, True), (51, False)])
def test_a_finding_may_be_line_tolerance_lines_outside_the_range(
    tmp_path: Path, line: int, found: bool
) -> None:
    got = graded(tmp_path, review_md([finding("service/cache.py", line, "concurrency")]))
    assert got.evidence["defects"][0]["found"] is found
    assert got.evidence["unmatched_count"] == (0 if found else 1)


@pytest.mark.parametrize(
    "path", ["./service/cache.py", "repo/service/cache.py", "/workspace/repo/service/cache.py"]
)
def test_paths_are_compared_without_workspace_and_repo_prefixes(tmp_path: Path, path: str) -> None:
    got = graded(tmp_path, review_md([finding(path, 42, "concurrency")]))
    assert got.evidence["defects"][0]["found"] is True


def test_the_same_line_in_another_file_matches_nothing(tmp_path: Path) -> None:
    got = graded(tmp_path, review_md([finding("service/other.py", 42, "concurrency")]))
    assert got.evidence["unmatched"][0]["why"] == "matches no seeded defect"
    assert got.evidence["precision"] == 0.0 and got.score == 0.0


def test_a_flagged_decoy_costs_precision_and_is_named(tmp_path: Path) -> None:
    got = graded(tmp_path, review_md([*EVERY_DEFECT, DECOY]))
    assert got.evidence["precision"] == 0.75
    assert got.score == pytest.approx(f2(0.75, 1.0), abs=1e-4)
    decoy = got.evidence["decoys"][0]
    assert decoy["flagged"] is True and decoy["by"][0]["finding"] == 4


def test_an_unmatched_finding_costs_precision_and_is_listed(tmp_path: Path) -> None:
    got = graded(tmp_path, review_md([*EVERY_DEFECT, STRAY]))
    assert got.evidence["precision"] == 0.75
    assert got.evidence["unmatched"][0]["finding"] == 4


def test_a_second_finding_on_a_found_defect_counts_as_neither(tmp_path: Path) -> None:
    wrong_first = finding("service/cache.py", 41, "resource_leak", "blocker")
    got = graded(tmp_path, review_md([wrong_first, CACHE, MODELS, BATCH]))
    assert got.evidence["duplicates"] == [2]
    assert got.evidence["precision"] == 1.0
    assert got.evidence["defects"][0]["credit"] == 0.5, "the first finding decides the credit"


def test_findings_on_the_pull_request_description_are_left_to_the_claims_grader(
    tmp_path: Path,
) -> None:
    claim = finding("PR.md", 9, "misleading_claim")
    got = graded(tmp_path, review_md([*EVERY_DEFECT, claim]))
    assert got.score == 1.0 and got.evidence["claims_findings"] == 1


def test_approving_when_a_blocker_is_seeded_halves_the_score_and_fails(tmp_path: Path) -> None:
    got = graded(tmp_path, review_md(EVERY_DEFECT, verdict="approve"))
    assert (got.score, got.passed) == (0.5, False)
    assert got.evidence["verdict"] == {"given": "approve", "expected": "request_changes",
                                       "right": False}  # fmt: skip
    assert verdict(got) == (
        False, "verdict approve, but a blocker is seeded: request_changes"
    )  # fmt: skip


def test_without_a_seeded_blocker_either_verdict_is_right(tmp_path: Path) -> None:
    defects = [{**d, "severity": "major"} for d in MANIFEST["defects"]]
    got = graded(tmp_path, review_md(EVERY_DEFECT, verdict="approve"), defects=defects)
    assert got.score == 1.0 and verdict(got)[0]


@pytest.mark.parametrize("written", ["Request changes", "REQUEST-CHANGES", " request_changes "])
def test_the_verdict_is_read_forgivingly(tmp_path: Path, written: str) -> None:
    assert graded(tmp_path, review_md(EVERY_DEFECT, verdict=written)).evidence["verdict"]["right"]


def test_the_score_must_reach_pass_score_to_pass(tmp_path: Path) -> None:
    got = graded(tmp_path, review_md([BATCH]))  # recall 1/6
    assert got.score == pytest.approx(f2(1.0, 1 / 6), abs=1e-4)
    assert got.score < PARAMS.pass_score and not got.passed


def test_no_findings_score_zero(tmp_path: Path) -> None:
    got = graded(tmp_path, review_md([]))
    assert (got.score, got.evidence["precision"], got.evidence["recall"]) == (0.0, 0.0, 0.0)


# the shotgun review ---------------------------------------------------------------------------


def noise(n: int) -> list[dict[str, Any]]:
    return [finding("service/api.py", 100 + i, CATEGORIES[i % 9]) for i in range(n)]


def test_flagging_everything_is_a_shotgun_review_and_scores_zero(tmp_path: Path) -> None:
    got = graded(tmp_path, review_md([*EVERY_DEFECT, *noise(20)]))  # 23 > 3 x 3, P 3/23
    assert got.score == 0.0 and not got.passed
    assert [f.kind for f in got.findings] == ["shotgun_review"]
    assert got.findings[0].evidence == {"findings": 23, "precision": 0.1304, "seeded_defects": 3}
    assert got.summary.endswith("a shotgun review scores 0")
    assert got.evidence["recall"] == 1.0, "the evidence still shows what matched"


def test_few_findings_at_low_precision_are_no_shotgun(tmp_path: Path) -> None:
    got = graded(tmp_path, review_md([CACHE, *noise(8)]))  # 9 = 3 x 3, P 1/9
    assert got.findings == [] and got.score == pytest.approx(f2(1 / 9, 0.5), abs=1e-4)


def test_many_findings_at_good_precision_are_no_shotgun(tmp_path: Path) -> None:
    got = graded(tmp_path, review_md([*EVERY_DEFECT, *noise(7)]))  # 10 > 9, P 0.3
    assert got.findings == [] and got.evidence["precision"] == 0.3


# bad findings and unreadable reviews ------------------------------------------------------------


@pytest.mark.parametrize(
    ("bad", "why"),
    [
        ("just a sentence", "finding 2 is not a mapping with file, line, category, severity, "
                            "comment"),
        ({"file": "a.py", "line": 3}, "finding 2 lacks category, severity, comment"),
        ({**MODELS, "line": "13"}, "finding 2: line '13' is not a line number (1, 2, ...)"),
        ({**MODELS, "line": True}, "finding 2: line True is not a line number (1, 2, ...)"),
        ({**MODELS, "line": 0}, "finding 2: line 0 is not a line number (1, 2, ...)"),
        ({**MODELS, "file": 7}, "finding 2: file 7 is not a non-empty text"),
        ({**MODELS, "severity": "critical"},
         "finding 2: severity 'critical' is not one of blocker, major, minor"),
        ({**MODELS, "category": "style"},
         "finding 2: category 'style' is not one of the categories"),
    ],
)  # fmt: skip
def test_a_bad_finding_is_unmatched_with_a_note_naming_its_index_and_key(
    tmp_path: Path, bad: Any, why: str
) -> None:
    got = graded(tmp_path, review_md([CACHE, bad, BATCH]))
    assert got.evidence["unmatched"][0]["why"] == why
    assert got.evidence["precision"] == pytest.approx(2 / 3, abs=1e-4)
    assert got.evidence["defects"][2]["found"] is True, "the other findings still count"


def test_a_missing_review_scores_zero_with_the_reason_not_an_error(tmp_path: Path) -> None:
    got = graded(tmp_path, None)
    assert (got.score, got.error, got.summary) == (
        0.0,
        None,
        "review.md is missing from the workspace",
    )
    assert verdict(got) == (False, "not measured: review.md is missing from the workspace")


@pytest.mark.parametrize(
    ("text", "why"),
    [
        (b"# Review\n\nLooks good.\n", "it does not start with a front matter block"),
        (b"---\nverdict: approve\n---\n", "the front matter lacks findings"),
        (review_md([], verdict="lgtm"), "verdict: 'lgtm' is not one of request_changes, approve"),
        (b"---\nverdict: approve\nfindings: {a: 1}\n---\n", "findings must be a list of mappings"),
        (b"---\nverdict: approve\nfindings: [\n---\n", "the front matter: not valid YAML"),
    ],
)
def test_an_unreadable_review_scores_zero_with_the_reason(
    tmp_path: Path, text: bytes, why: str
) -> None:
    got = graded(tmp_path, text)
    assert got.score == 0.0 and got.error is None
    assert got.summary.startswith(f"review.md cannot be read: {why}")


def test_at_most_max_findings_are_read_with_a_note(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(findings, "MAX_FINDINGS", 5)
    review = parse_review(review_md([dict(STRAY) for _ in range(7)]).decode())
    assert (len(review.findings), review.written) == (5, 7)
    assert review.notes == ["only the first 5 of 7 findings were read"]


def test_parse_review_keeps_a_malformed_finding_in_place() -> None:
    review = parse_review(review_md([{"file": "x.py"}, CACHE]).decode())
    assert review.findings[0] == Malformed(1, "finding 1 lacks line, category, severity, comment")
    assert review.findings[1].index == 2


def test_an_invalid_manifest_is_a_grader_error(tmp_path: Path) -> None:
    bad = [{**MANIFEST["defects"][0], "severity": "huge"}]
    with pytest.raises(GraderError, match="manifest.json: not a defect manifest: defects.0.sev"):
        graded(tmp_path, review_md([]), defects=bad)
    with pytest.raises(GraderError, match="base_commit: Value error, 'main' is not a full commit"):
        graded(tmp_path, review_md([]), base_commit="main")


def test_severity_weights_need_every_severity() -> None:
    with pytest.raises(ValidationError, match="a positive weight for each of blocker, major"):
        ReviewParams(categories=CATEGORIES, severity_weights={"blocker": 3, "major": 2})
