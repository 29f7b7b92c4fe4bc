"""The fixes grader: the hidden tests' JUnit report on the committed branch, read against
reviewsupport.MANIFEST (blocker cache-race, major path-traversal, minor last-chunk, two feature
tests), the branch's problems, and the conditions feature_intact and blockers_handled."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest
from pydantic import ValidationError

from prodproven.graders.base import Finding, GraderError, GradeResult, ProbeOutput
from prodproven.graders.fixes import FixesGrader, FixesParams
from prodproven.graders.pytest_grader import PYTEST_COMMAND
from prodproven.sandbox.environment import ExecResult
from tests.unit.evaluationsupport import FakeEnv
from tests.unit.reviewsupport import manifest

PARAMS = FixesParams()
CACHE = "test_defects.py::test_cache_is_thread_safe"
MODELS = "test_defects.py::test_model_version_is_checked"
BATCH = "test_defects.py::test_every_row_is_scored"
SINGLE = "test_feature.py::test_batch_matches_single"
HITS = "test_feature.py::test_cache_hits"
ALL = [CACHE, MODELS, BATCH, SINGLE, HITS]


def junit(outcomes: Mapping[str, str]) -> bytes:
    """A pytest JUnit report: each ``FILE::NAME[param]`` with its outcome."""
    cases = []
    for test, outcome in outcomes.items():
        path, name = test.split("::")
        classname = "tests." + path.removesuffix(".py")
        child = {"passed": "", "failed": "<failure message='assert'/>",
                 "error": "<error message='boom'/>", "skipped": "<skipped/>"}[outcome]  # fmt: skip
        cases.append(f'<testcase classname="{classname}" name="{name}">{child}</testcase>')
    return f"<testsuites><testsuite>{''.join(cases)}</testsuite></testsuites>".encode()


def env_for(
    tmp_path: Path,
    outcomes: Mapping[str, str] | None = None,
    *,
    out: dict[str, bytes] | None = None,
    review: GradeResult | None = None,
) -> FakeEnv:
    files = {"head.txt": b"c" * 40 + b"\n", "status.txt": b""}
    if outcomes is not None:
        files["junit.xml"] = junit(outcomes)

    def tester(given: Mapping[str, bytes], cmd: Sequence[str]) -> ProbeOutput:
        return ProbeOutput(ExecResult(1, "", "collected 0 items", 1.0), files | (out or {}))

    env = FakeEnv(
        tmp_path,
        hidden={
            "manifest.json": manifest(),
            "tests/test_defects.py": b"",
            "tests/conftest.py": b"",
        },
        tester=tester,
    )
    if review is not None:
        env.earlier["review"] = review
    return env


def graded(env: FakeEnv, params: FixesParams = PARAMS) -> GradeResult:
    return FixesGrader().grade(env, params)  # type: ignore[arg-type]


def condition(name: str, result: GradeResult) -> tuple[bool, str]:
    verdict = FixesGrader.conditions[name].check(result, PARAMS)
    return verdict.met, verdict.detail


def passing(*failing: str, how: str = "failed") -> dict[str, str]:
    return {t: how if t in failing else "passed" for t in ALL}


def reviewed(*found: str, findings: list[Finding] | None = None) -> GradeResult:
    defects = [{"id": d, "found": d in found} for d in ("cache-race", "path-traversal")]
    return GradeResult(score=0.5, passed=False, summary="review", evidence={"defects": defects},
                       findings=findings or [])  # fmt: skip


def test_every_defect_fixed_with_the_feature_intact_scores_full(tmp_path: Path) -> None:
    got = graded(env_for(tmp_path, passing()))
    assert (got.score, got.passed) == (1.0, True)
    assert got.summary == "3 of 3 seeded defects fixed, 2 of 2 feature tests pass"
    assert condition("feature_intact", got) == (True, "all 2 feature tests pass")
    assert condition("blockers_handled", got) == (True, "every blocker handled: cache-race fixed")
    assert got.evidence["branch_commit"] == "c" * 40


def test_the_tester_clones_the_committed_branch_and_runs_the_hidden_tests(tmp_path: Path) -> None:
    env = env_for(tmp_path, passing())
    graded(env)
    files, cmd = env.testers[0]
    assert cmd == ["sh", "/grading/fixes_tests.sh", "/workspace/repo", "ai/change",
                   *PYTEST_COMMAND]  # fmt: skip
    assert {"tests/test_defects.py", "tests/conftest.py", "pytest.ini", "gitconfig"} <= set(files)
    assert b"git clone --quiet --branch" in files["fixes_tests.sh"]
    assert files["gitconfig"] == b"[safe]\n\tdirectory = *\n"
    assert "manifest.json" not in files, "the manifest never enters the candidate's container"
    assert "junit.xml" in env.artifacts


def test_the_score_is_the_weighted_fixed_share_times_the_feature_share(tmp_path: Path) -> None:
    got = graded(env_for(tmp_path, passing(MODELS, HITS)))  # (3 + 1) / 6 x 1 / 2
    assert got.score == pytest.approx(4 / 6 * 0.5, abs=1e-4)
    assert (got.evidence["fixed_share"], got.evidence["feature_share"]) == (0.6667, 0.5)
    assert got.evidence["defects"][1] == {"id": "path-traversal", "severity": "major",
                                          "category": "security", "fixed": False,
                                          "tests": {MODELS: "failed"}}  # fmt: skip
    assert not got.passed
    assert condition("feature_intact", got) == (False, "1 of 2 feature tests fail: test_cache_hits")


def test_a_revert_fixes_nothing_that_counts(tmp_path: Path) -> None:
    got = graded(env_for(tmp_path, passing(SINGLE, HITS, how="error")))
    assert got.score == 0.0 and got.evidence["fixed_share"] == 1.0


@pytest.mark.parametrize("how", ["failed", "error", "skipped"])
def test_a_defect_is_fixed_only_when_its_test_passes(tmp_path: Path, how: str) -> None:
    got = graded(env_for(tmp_path, passing(BATCH, how=how)))
    assert got.evidence["defects"][2]["tests"] == {BATCH: how}
    assert got.score == pytest.approx(5 / 6, abs=1e-4) and not got.passed


def test_every_parameter_of_a_defect_test_must_pass(tmp_path: Path) -> None:
    outcomes = {**passing(), f"{BATCH}[10]": "passed", f"{BATCH}[11]": "failed"}
    outcomes.pop(BATCH)
    got = graded(env_for(tmp_path, outcomes))
    assert got.evidence["defects"][2]["tests"] == {BATCH: "failed"}


def test_a_test_the_report_lacks_is_missing_and_not_passed(tmp_path: Path) -> None:
    outcomes = passing()
    outcomes.pop(CACHE)
    got = graded(env_for(tmp_path, outcomes))
    assert got.evidence["defects"][0]["tests"] == {CACHE: "missing"}
    assert condition("blockers_handled", got) == (
        False, "blockers neither fixed nor found in the review: cache-race"
    )  # fmt: skip


# blockers_handled: fixed here or found in the review ------------------------------------------


def test_a_blocker_found_in_the_review_is_handled_without_a_fix(tmp_path: Path) -> None:
    got = graded(env_for(tmp_path, passing(CACHE), review=reviewed("cache-race")))
    assert got.evidence["blockers"] == [{"id": "cache-race", "fixed": False,
                                         "found_in_review": True}]  # fmt: skip
    assert condition("blockers_handled", got) == (
        True, "every blocker handled: cache-race found in the review"
    )  # fmt: skip


def test_a_shotgun_review_finds_no_blocker(tmp_path: Path) -> None:
    shotgun = [Finding(kind="shotgun_review", message="flags everything")]
    got = graded(env_for(tmp_path, passing(CACHE), review=reviewed("cache-race", findings=shotgun)))
    assert not condition("blockers_handled", got)[0]
    assert (
        got.evidence["review"] == "no review counted: review failed or raised an integrity finding"
    )


def test_without_a_graded_review_only_fixes_count(tmp_path: Path) -> None:
    got = graded(env_for(tmp_path, passing(CACHE)))
    assert got.evidence["review"].startswith("no review counted: review was not graded")
    assert not condition("blockers_handled", got)[0]


# the branch and the working tree ----------------------------------------------------------------


def test_a_missing_branch_scores_zero_with_the_reason(tmp_path: Path) -> None:
    problem = {"problem.txt": b"ai/change is not a branch of /workspace/repo\n"}
    got = graded(env_for(tmp_path, out=problem, review=reviewed("cache-race")))
    assert (got.score, got.error) == (0.0, None)
    assert got.summary == "ai/change is not a branch of /workspace/repo"
    assert condition("feature_intact", got) == (
        False, "not measured: ai/change is not a branch of /workspace/repo"
    )  # fmt: skip
    assert condition("blockers_handled", got)[0], "the review still found the blocker"


def test_no_report_and_no_problem_is_a_grader_error(tmp_path: Path) -> None:
    with pytest.raises(GraderError, match=r"pytest wrote no report \(exit 1\): collected 0 items"):
        graded(env_for(tmp_path))


def test_a_report_without_tests_is_a_grader_error(tmp_path: Path) -> None:
    with pytest.raises(GraderError, match="pytest collected no tests"):
        graded(env_for(tmp_path, {}))


def test_failing_cases_are_listed_with_their_messages(tmp_path: Path) -> None:
    got = graded(env_for(tmp_path, passing(BATCH)))
    assert got.evidence["failing"] == [{"test": "tests.test_defects::test_every_row_is_scored",
                                        "outcome": "failed", "message": "assert"}]  # fmt: skip


def test_uncommitted_changes_are_noted_not_graded(tmp_path: Path) -> None:
    status = b" M service/cache.py\n?? service/__pycache__/\n?? notes.txt\n?? a/b.pyc\n"
    got = graded(env_for(tmp_path, passing(), out={"status.txt": status}))
    assert got.evidence["uncommitted"] == [" M service/cache.py"]
    assert got.evidence["untracked"] == ["notes.txt"]
    assert got.summary.endswith("; 2 uncommitted changes not graded")
    assert got.score == 1.0


@pytest.mark.parametrize(
    "branch", ["ai/change; rm -rf /", "../main", "a..b", "-x", "ai/change.lock", "ai//x", "a/"]
)
def test_the_branch_must_be_plain_path_segments(branch: str) -> None:
    with pytest.raises(ValidationError, match="must be path segments"):
        FixesParams(branch=branch)


def test_a_plain_branch_and_repo_are_accepted() -> None:
    params = FixesParams(branch="feature/v1.2_fix-3", repo="src/repo")
    assert (params.branch, params.repo) == ("feature/v1.2_fix-3", "src/repo")
