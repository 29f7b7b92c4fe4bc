"""The ``fixes`` grader: the hidden tests on the committed branch the candidate fixed.

In a tester container (the challenge image, as the candidate, the submitted workspace at
/workspace) the branch is cloned from the workspace's repository, so only commits count, and
the hidden tests run against the clone (``REPO``), as the pytest grader runs its tests::

    fixed       a seeded defect whose every test passed
    score       = severity-weighted fixed fraction x fraction of feature tests passed

Reverting the pull request is no fix: the feature's tests fail, and the product with them. A
missing repository or branch scores 0 with the reason. The working tree's uncommitted changes
are recorded as a note. Conditions: ``feature_intact`` and ``blockers_handled`` (each seeded
blocker fixed here or found by the review grader, read from its earlier result).
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import Field, field_validator

from prodproven.graders.base import (
    HIDDEN_FILE,
    Condition,
    EvaluationEnvironment,
    Grader,
    GraderError,
    GradeResult,
    Params,
    ProbeOutput,
    Verdict,
)
from prodproven.graders.findings import SEVERITY_WEIGHTS, Manifest, read_manifest, test_id
from prodproven.graders.frontmatter import zero_because
from prodproven.graders.probes import probe
from prodproven.graders.pytest_grader import PYTEST_COMMAND, hidden_tests, junit_report, parse_junit

_SEGMENT = r"[A-Za-z0-9_][A-Za-z0-9._-]*"
_PATH = re.compile(rf"^{_SEGMENT}(?:/{_SEGMENT})*$")
_SCRATCH = re.compile(r"(^|/)(__pycache__|\.pytest_cache)(/|$)|\.pyc$")
"""Untracked files running the tests leaves behind: not uncommitted work."""
MAX_LISTED = 20


class FixesParams(Params):
    tests: str = Field(
        "tests", description="hidden folder of pytest files", json_schema_extra=HIDDEN_FILE
    )
    manifest: str = Field(
        "manifest.json", description="hidden defect manifest", json_schema_extra=HIDDEN_FILE
    )
    repo: str = Field("repo", max_length=200, description="the git repository in the workspace")
    branch: str = Field("ai/change", max_length=100, description="the branch that is graded")
    timeout_s: float = Field(120, gt=0, description="for the clone and the whole test session")
    review_grader: str = Field("review", description="grader whose result says what was found")

    @field_validator("repo", "branch")
    @classmethod
    def _plain(cls, value: str) -> str:
        """Names that reach a shell and git as arguments: plain path segments only."""
        if not _PATH.match(value) or ".." in value or value.endswith((".lock", ".")):
            raise ValueError(
                f"{value!r} must be path segments of letters, digits, '.', '_' and '-' "
                "joined by '/' (no '..', not ending in '.' or '.lock')"
            )
        return value


class FixesGrader(Grader[FixesParams]):
    kind = "fixes"
    description = (
        "Runs the hidden defect and feature tests on the committed branch: the severity-"
        "weighted share of seeded defects fixed, times the share of feature tests passing."
    )
    Params = FixesParams
    conditions = {
        "feature_intact": Condition[FixesParams](
            "every feature test passes on the branch",
            lambda result, params: feature_intact(result),
        ),
        "blockers_handled": Condition[FixesParams](
            "every seeded blocker is fixed on the branch or found by the review grader",
            lambda result, params: blockers_handled(result),
        ),
    }

    def grade(self, env: EvaluationEnvironment, params: FixesParams) -> GradeResult:
        """Raises GraderError when the manifest or tests are missing or invalid, or pytest
        wrote no readable report; a missing repository or branch scores 0 with the reason."""
        manifest = read_manifest(env, params.manifest)
        files = hidden_tests(env, params.tests)
        files["fixes_tests.sh"] = probe("fixes_tests.sh")
        files["gitconfig"] = b"[safe]\n\tdirectory = *\n"
        repo = f"/workspace/{params.repo}"
        cmd = ["sh", "/grading/fixes_tests.sh", repo, params.branch, *PYTEST_COMMAND]
        out = env.run_tester(files, cmd, timeout=params.timeout_s)
        found = found_in_review(env, params.review_grader)
        problem = out.files.get("problem.txt")
        if problem is not None:
            zero = zero_because(problem.decode("utf-8", "replace").strip()[:600])
            blockers = [{"id": d.id, "fixed": False, "found_in_review": d.id in found[0]}
                        for d in manifest.defects if d.severity == "blocker"]  # fmt: skip
            zero.evidence.update(blockers=blockers, review=found[1])
            return zero
        junit = junit_report(out)
        env.save_artifact("junit.xml", junit)
        return score_fixes(manifest, parse_junit(junit), out, found)


def found_in_review(env: EvaluationEnvironment, grader: str) -> tuple[set[str], str]:
    """The ids of the defects the review grader found, and a note on where they come from. A
    review that failed or raised an integrity finding (a shotgun review) found nothing."""
    try:
        result = env.earlier_result(grader)
    except GraderError as exc:
        return set(), f"no review counted: {exc}"
    if result.error or result.findings:
        return set(), f"no review counted: {grader} failed or raised an integrity finding"
    found = {str(d.get("id")) for d in result.evidence.get("defects", []) if d.get("found")}
    return found, f"found as {grader} matched them"


def outcome(test: str, cases: list[dict[str, Any]]) -> str:
    """A manifest test's outcome in the JUnit cases: passed when each of its cases (all
    parameters) passed, missing when pytest reported none, else the first other outcome."""
    key = "::".join(test_id(test))
    mine = [c["outcome"] for c in cases if c["test"] == key or c["test"].startswith(key + "[")]
    if not mine:
        return "missing"
    return next((o for o in mine if o != "passed"), "passed")


def score_fixes(
    manifest: Manifest,
    cases: list[dict[str, Any]],
    out: ProbeOutput,
    found: tuple[set[str], str],
) -> GradeResult:
    if not cases:
        raise GraderError("pytest collected no tests")
    defects, weight, fixed_weight = [], 0.0, 0.0
    for d in manifest.defects:
        tests = {t: outcome(t, cases) for t in d.tests}
        fixed = all(o == "passed" for o in tests.values())
        weight += SEVERITY_WEIGHTS[d.severity]
        fixed_weight += SEVERITY_WEIGHTS[d.severity] * fixed
        defects.append({"id": d.id, "severity": d.severity, "category": d.category,
                        "fixed": fixed, "tests": tests})  # fmt: skip
    feature = {t: outcome(t, cases) for t in manifest.feature_tests}
    failing = [t for t, o in feature.items() if o != "passed"]
    feature_share = 1.0 - len(failing) / len(feature) if feature else 1.0
    fixed_share = fixed_weight / weight
    blockers = [{"id": d["id"], "fixed": d["fixed"], "found_in_review": d["id"] in found[0]}
                for d in defects if d["severity"] == "blocker"]  # fmt: skip
    status = out.files.get("status.txt", b"").decode("utf-8", "replace").splitlines()
    changed = [line for line in status if line.strip() and not line.startswith("??")]
    untracked = [line[3:] for line in status if line.startswith("??")
                 and not _SCRATCH.search(line[3:].strip())]  # fmt: skip
    n_fixed = sum(1 for d in defects if d["fixed"])
    summary = (
        f"{n_fixed} of {len(defects)} seeded defects fixed, "
        f"{len(feature) - len(failing)} of {len(feature)} feature tests pass"
        + (
            f"; {len(changed) + len(untracked)} uncommitted changes not graded"
            if changed or untracked
            else ""
        )  # fmt: skip
    )
    score = fixed_share * feature_share
    return GradeResult(
        score=round(score, 4),
        passed=n_fixed == len(defects) and not failing,
        summary=summary,
        evidence={
            "defects": defects,
            "feature": {"tests": feature, "failing": failing, "total": len(feature)},
            "fixed_share": round(fixed_share, 4),
            "feature_share": round(feature_share, 4),
            "severity_weights": dict(SEVERITY_WEIGHTS),
            "blockers": blockers,
            "review": found[1],
            "branch_commit": out.files.get("head.txt", b"").decode("ascii", "replace").strip(),
            "uncommitted": changed[:MAX_LISTED],
            "untracked": untracked[:MAX_LISTED],
            "failing": [c for c in cases if c["outcome"] != "passed"][:MAX_LISTED],
        },
    )


def feature_intact(result: GradeResult) -> Verdict:
    """The ``feature_intact`` condition: every feature test passed on the branch."""
    feature = result.evidence.get("feature")
    if not isinstance(feature, dict):
        return Verdict(False, f"not measured: {result.summary}")
    failing, total = feature.get("failing", []), feature.get("total", 0)
    if not failing:
        return Verdict(True, f"all {total} feature tests pass")
    names = ", ".join(str(t).rsplit("::", 1)[-1] for t in failing[:5])
    return Verdict(False, f"{len(failing)} of {total} feature tests fail: {names}")


def blockers_handled(result: GradeResult) -> Verdict:
    """The ``blockers_handled`` condition: each seeded blocker fixed or found in the review."""
    blockers = result.evidence.get("blockers")
    if not isinstance(blockers, list):
        return Verdict(False, f"not measured: {result.summary}")
    missed = [str(b.get("id")) for b in blockers
              if not b.get("fixed") and not b.get("found_in_review")]  # fmt: skip
    if missed:
        return Verdict(
            False, f"blockers neither fixed nor found in the review: {', '.join(missed)}"
        )
    how = ", ".join(
        f"{b.get('id')} {'fixed' if b.get('fixed') else 'found in the review'}" for b in blockers
    )
    return Verdict(True, f"every blocker handled: {how}" if how else "no blocker seeded")
