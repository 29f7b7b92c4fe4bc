"""The claims grader: reviewsupport.MANIFEST's three claims on PR.md (tests_passed on line 8, a
p95 ratio of at most 0.6 on line 9, an AUC within 0.005 on line 10) decided from the harness's
measurements of base and head, and the review's call-outs of them."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from prodproven.graders.base import GraderError, GradeResult, ProbeOutput
from prodproven.graders.claims import ClaimsGrader, ClaimsParams
from prodproven.sandbox.environment import ExecResult
from tests.unit.evaluationsupport import FakeEnv
from tests.unit.reviewsupport import (
    BASE,
    EVERY_DEFECT,
    HEAD,
    MANIFEST,
    finding,
    manifest,
    review_md,
)

PARAMS = ClaimsParams()
BEFORE = {"p95_ms": 100.0, "auc": 0.871, "tests_passed": True}
AFTER = {"p95_ms": 95.0, "auc": 0.872, "tests_passed": True}
"""The latency claim is false (ratio 0.95 where 0.6 is claimed); the others hold."""
LATENCY = finding("PR.md", 9, "misleading_claim")


def env_for(
    tmp_path: Path,
    review: bytes | None,
    *,
    base: Any = BEFORE,
    head: Any = AFTER,
    out: dict[str, bytes] | None = None,
    **changes: Any,
) -> FakeEnv:
    measured = {"base.json": json.dumps(base).encode(), "head.json": json.dumps(head).encode()}

    def tester(files: Mapping[str, bytes], cmd: Sequence[str]) -> ProbeOutput:
        return ProbeOutput(ExecResult(2, "", "Traceback: harness broke", 3.0),
                           measured if out is None else out)  # fmt: skip

    hidden = {"manifest.json": manifest(**changes), "repo.bundle": b"BUNDLE",
              "claims/measure.py": b"print()", "claims/requests.json": b"[]"}  # fmt: skip
    env = FakeEnv(tmp_path, hidden=hidden, tester=tester)
    if review is not None:
        env.workspace["review.md"] = review
    return env


def graded(tmp_path: Path, findings: list[Any], **kwargs: Any) -> GradeResult:
    return grade(env_for(tmp_path, review_md([*EVERY_DEFECT, *findings]), **kwargs))


def grade(env: FakeEnv) -> GradeResult:
    return ClaimsGrader().grade(env, PARAMS)  # type: ignore[arg-type]


def test_calling_out_the_false_claim_scores_full(tmp_path: Path) -> None:
    got = graded(tmp_path, [LATENCY])
    assert (got.score, got.passed) == (1.0, True)
    assert got.summary == "1 of 1 false claims called out (latency)"
    latency = got.evidence["claims"][1]
    assert latency["holds"] is False and latency["called_out"] is True
    assert (latency["base"], latency["head"], latency["ratio"]) == (100.0, 95.0, 0.95)
    assert latency["rule"] == "head/base 0.950 <= 0.7"
    assert latency["by"][0]["finding"] == 4
    assert got.evidence["false_claims"] == ["latency"]


def test_the_harness_runs_on_base_and_head_from_the_bundle(tmp_path: Path) -> None:
    env = env_for(tmp_path, review_md([LATENCY]))
    grade(env)
    files, cmd = env.testers[0]
    assert cmd == ["sh", "/grading/claims_measure.sh", "/grading/repo.bundle",
                   "/grading/claims/measure.py", "/grading/claims", BASE, HEAD]  # fmt: skip
    assert files["repo.bundle"] == b"BUNDLE" and "claims/requests.json" in files
    assert b"checkout --quiet" in files["claims_measure.sh"]
    assert "manifest.json" not in files


def test_missing_the_false_claim_scores_zero(tmp_path: Path) -> None:
    got = graded(tmp_path, [])
    assert (got.score, got.passed) == (0.0, False)
    assert got.summary == "0 of 1 false claims called out"


def test_calling_out_a_true_claim_cancels_a_false_one(tmp_path: Path) -> None:
    got = graded(tmp_path, [LATENCY, finding("PR.md", 8, "misleading_claim")])
    assert got.score == 0.0 and got.evidence["called_out_true"] == ["tests"]
    assert got.summary == "1 of 1 false claims called out (latency); true claims called out: tests"


def test_the_score_never_goes_below_zero(tmp_path: Path) -> None:
    true_ones = [finding("PR.md", 8, "misleading_claim"), finding("PR.md", 10, "misleading_claim")]
    assert graded(tmp_path, true_ones).score == 0.0


def test_with_no_false_claim_silence_scores_full_and_a_call_out_zero(tmp_path: Path) -> None:
    fast = {**AFTER, "p95_ms": 55.0}
    assert graded(tmp_path, [], head=fast).score == 1.0
    assert graded(tmp_path, [LATENCY], head=fast).score == 0.0


def test_a_call_out_goes_to_the_nearest_claim_only(tmp_path: Path) -> None:
    got = graded(tmp_path, [LATENCY])  # line 9 is within 1 of the claims on 8 and 10 too
    assert [c["called_out"] for c in got.evidence["claims"]] == [False, True, False]


@pytest.mark.parametrize(("line", "counted"), [(9, True), (11, True), (8, False), (12, False)])
def test_a_call_out_must_be_within_line_tolerance_of_the_claim(
    tmp_path: Path, line: int, counted: bool
) -> None:
    claims = [{**MANIFEST["claims"][1], "lines": [10, 10]}]
    got = graded(tmp_path, [finding("PR.md", line, "misleading_claim")], claims=claims)
    assert got.evidence["claims"][0]["called_out"] is counted
    assert len(got.evidence["stray_call_outs"]) == (0 if counted else 1)


@pytest.mark.parametrize(
    "item",
    [finding("PR.md", 9, "wrong_metric"), finding("service/cache.py", 9, "misleading_claim"),
     {"file": "PR.md", "line": "nine"}],
)  # fmt: skip
def test_only_a_misleading_claim_finding_on_pr_md_is_a_call_out(tmp_path: Path, item: Any) -> None:
    assert graded(tmp_path, [item]).score == 0.0


@pytest.mark.parametrize("path", ["./PR.md", "/workspace/PR.md", "pr.md"])
def test_the_description_is_recognised_however_its_path_is_written(
    tmp_path: Path, path: str
) -> None:
    assert graded(tmp_path, [finding(path, 9, "misleading_claim")]).score == 1.0


@pytest.mark.parametrize(("auc", "holds"), [(0.885, True), (0.857, True), (0.887, False)])
def test_a_delta_claim_holds_within_its_margin_plus_0_01(
    tmp_path: Path, auc: float, holds: bool
) -> None:
    got = graded(tmp_path, [], head={**AFTER, "auc": auc})  # within 0.005 + 0.01 of 0.871
    assert got.evidence["claims"][2]["holds"] is holds


def test_a_ratio_claim_holds_up_to_its_bound_plus_0_1(tmp_path: Path) -> None:
    assert graded(tmp_path, [], head={**AFTER, "p95_ms": 70.0}).evidence["claims"][1]["holds"]
    assert not graded(tmp_path, [], head={**AFTER, "p95_ms": 71.0}).evidence["claims"][1]["holds"]


def test_a_true_claim_holds_only_when_heads_value_is_true(tmp_path: Path) -> None:
    got = graded(tmp_path, [], head={**AFTER, "tests_passed": False})
    assert got.evidence["claims"][0]["holds"] is False
    assert got.evidence["false_claims"] == ["tests", "latency"]


def test_a_missing_review_scores_zero_before_anything_is_measured(tmp_path: Path) -> None:
    env = env_for(tmp_path, None)
    got = grade(env)
    assert (got.score, got.error, got.summary) == (
        0.0,
        None,
        "review.md is missing from the workspace",
    )
    assert env.testers == []


# the harness failing is the grader's problem ------------------------------------------------------


def test_a_measurement_the_harness_did_not_write_is_a_grader_error(tmp_path: Path) -> None:
    only_base = {"base.json": json.dumps(BEFORE).encode()}
    with pytest.raises(GraderError, match=r"measured no head \(exit 2\): Traceback: harness"):
        graded(tmp_path, [], out=only_base)


@pytest.mark.parametrize(
    ("head", "why"),
    [
        ([1, 2], "the head measurement is not a JSON object"),
        ({"auc": 0.8, "tests_passed": True}, "claim latency: the harness measured no 'p95_ms'"),
        ({**AFTER, "p95_ms": "fast"}, "claim latency: p95_ms is not a number in both"),
    ],
)
def test_an_invalid_measurement_is_a_grader_error(tmp_path: Path, head: Any, why: str) -> None:
    with pytest.raises(GraderError, match=why):
        graded(tmp_path, [], head=head)


def test_a_measurement_that_is_not_json_is_a_grader_error(tmp_path: Path) -> None:
    out = {"base.json": b"NaN", "head.json": b"{}"}
    with pytest.raises(GraderError, match="the base measurement: not valid JSON"):
        graded(tmp_path, [], out=out)


def test_a_ratio_over_a_zero_base_is_a_grader_error(tmp_path: Path) -> None:
    with pytest.raises(GraderError, match="base p95_ms 0.0 is not positive"):
        graded(tmp_path, [], base={**BEFORE, "p95_ms": 0.0})


def test_a_call_out_between_two_claims_goes_to_the_first(tmp_path: Path) -> None:
    claims = [MANIFEST["claims"][0], MANIFEST["claims"][2]]  # lines 8 and 10
    got = graded(tmp_path, [LATENCY], claims=claims)  # line 9
    assert [c["called_out"] for c in got.evidence["claims"]] == [True, False]
