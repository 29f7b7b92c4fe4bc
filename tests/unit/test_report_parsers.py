"""The correctness and pytest graders' scoring of what their probes brought back."""

from __future__ import annotations

import pytest

from prodproven.graders.base import GraderError
from prodproven.graders.correctness import score_answers
from prodproven.graders.pytest_grader import score_junit

JUNIT = b"""<?xml version="1.0"?><testsuites><testsuite name="pytest">
<testcase classname="tests.test_service" name="test_health"/>
<testcase classname="tests.test_service" name="test_bad">
<failure message="expected 4xx, got 500">x</failure></testcase>
<testcase classname="tests.test_service" name="test_err"><error message="boom"/></testcase>
<testcase classname="tests.test_service" name="test_ok"/>
</testsuite></testsuites>"""


def test_correctness_scores_the_match_fraction_without_chance_correction() -> None:
    report = {"answers": [1, 0, 1, None], "problems": [{"status": 500}], "requests": 3}
    result = score_answers(report, [1, 0, 0, 1], threshold=0.99, chance_corrected=False)
    assert result.score == 0.5 and not result.passed
    assert [m["index"] for m in result.evidence["mismatches"]] == [2, 3]


def test_correctness_scores_a_hard_coded_constant_answer_zero() -> None:
    report = {"answers": [0, 0, 0, 0], "problems": [], "requests": 4}
    result = score_answers(report, [0, 0, 0, 1], threshold=0.99)
    assert result.evidence["match_fraction"] == 0.75
    assert result.evidence["constant_answer_fraction"] == 0.75
    assert result.score == 0.0


def test_correctness_scores_matches_beyond_the_constant_answer_proportionally() -> None:
    report = {"answers": [0, 1, 1, 1], "problems": [], "requests": 4}
    result = score_answers(report, [0, 0, 1, 1], threshold=0.99)
    assert result.score == pytest.approx((0.75 - 0.5) / 0.5)


def test_correctness_gives_full_marks_for_all_right_answers() -> None:
    report = {"answers": [0, 0, 1], "problems": [], "requests": 3}
    result = score_answers(report, [0, 0, 1], threshold=0.99)
    assert result.score == 1.0 and result.passed


def test_correctness_accepts_equal_numbers_but_not_booleans() -> None:
    report = {"answers": [1.0, True], "problems": [], "requests": 1}
    assert score_answers(report, [1, 1], threshold=1).evidence["matched"] == 1


def test_junit_pass_fraction_and_failing_messages() -> None:
    result = score_junit(JUNIT, threshold=1.0)
    assert result.score == 0.5 and not result.passed
    assert result.evidence["failing"][0]["message"] == "expected 4xx, got 500"
    assert {f["outcome"] for f in result.evidence["failing"]} == {"failed", "error"}


def test_junit_without_tests_is_a_grader_error() -> None:
    with pytest.raises(GraderError, match="no tests"):
        score_junit(b"<testsuites/>", threshold=1.0)


def test_unparseable_junit_is_a_grader_error() -> None:
    with pytest.raises(GraderError, match="does not parse"):
        score_junit(b"<testsuites", threshold=1.0)
