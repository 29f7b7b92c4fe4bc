"""The ``pytest`` grader: hidden tests, copied in only now, run as the candidate user in a
fresh container of the challenge image holding the submitted workspace.

pytest is pinned to our own ini file and rootdir (/grading) and runs with ``python -I``, so a
conftest.py, pytest.ini or sitecustomize.py planted in /workspace is never loaded. Tests that
import the candidate's modules run candidate code in the same process as pytest; prefer
black-box tests (HTTP, files) for anything the score depends on.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

from pydantic import Field

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

JUNIT_MAX = 4 * 2**20


class PytestParams(Params):
    tests: str = Field(
        "tests", description="hidden folder of pytest files", json_schema_extra=HIDDEN_FILE
    )
    timeout_s: float = Field(180, gt=0, description="for the whole test session")
    pass_threshold: float = Field(1.0, ge=0, le=1, description="pass fraction that passes")
    env: dict[str, str] = Field(default_factory=dict, description="extra environment for tests")


class PytestGrader(Grader[PytestParams]):
    kind = "pytest"
    description = "Runs hidden pytest tests next to the service and scores the pass fraction."
    Params = PytestParams
    conditions = {
        "all_pass": Condition[PytestParams](
            "every hidden test passed, whatever pass_threshold says",
            lambda result, params: all_passed(result),
        )
    }

    def grade(self, env: EvaluationEnvironment, params: PytestParams) -> GradeResult:
        files = hidden_tests(env, params.tests)
        env.ensure_service()
        variables = {"SERVICE_URL": f"http://127.0.0.1:{env.service_port}", **params.env}
        cmd = ["env", *(f"{k}={v}" for k, v in variables.items()), *PYTEST_COMMAND]
        out = env.run_tester(files, cmd, timeout=params.timeout_s)
        junit = junit_report(out)
        env.save_artifact("junit.xml", junit)
        return score_junit(junit, params.pass_threshold)


PYTEST_COMMAND = (
    "python",
    "-I",
    "-m",
    "pytest",
    "/grading/tests",
    "-c",
    "/grading/pytest.ini",
    "--rootdir=/grading",
    "-p",
    "no:cacheprovider",
    "-q",
    "-o",
    "junit_family=xunit2",
    "--junitxml=/grading/out/junit.xml",
)
"""pytest as the hidden tests are run: our ini file and rootdir, isolated mode, a JUnit report
in /grading/out."""


def hidden_tests(env: EvaluationEnvironment, rel: str) -> dict[str, bytes]:
    """The files a tester needs to run :data:`PYTEST_COMMAND` on the hidden folder ``rel``:
    its files under tests/ and an empty pytest.ini. GraderError when it is not a folder."""
    return {**hidden_folder(env, rel, "tests"), "pytest.ini": b"[pytest]\n"}


def hidden_folder(env: EvaluationEnvironment, rel: str, under: str) -> dict[str, bytes]:
    """The files of the hidden folder ``rel`` keyed by their path under ``under`` (caches
    left out), to copy into a grading container. GraderError when it is not a folder."""
    folder = env.hidden_file(rel)
    if not folder.is_dir():
        raise GraderError(f"hidden path {rel} is not a folder")
    return {
        f"{under}/{path.relative_to(folder).as_posix()}": path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.is_file() and "__pycache__" not in path.parts
    }


def junit_report(out: ProbeOutput) -> bytes:
    """The JUnit XML a :data:`PYTEST_COMMAND` run left; GraderError with its output if none."""
    junit = out.files.get("junit.xml")
    if junit is None:
        raise GraderError(
            f"pytest wrote no report (exit {out.result.exit_code}): "
            f"{(out.result.stdout + out.result.stderr)[-800:]}"
        )
    return junit


def parse_junit(xml: bytes) -> list[dict[str, Any]]:
    """Each test case of a JUnit report: ``test`` (classname::name), ``outcome`` (passed,
    failed, error or skipped) and ``message``. GraderError when the report is unreadable."""
    if len(xml) > JUNIT_MAX:
        raise GraderError("the JUnit report is implausibly large")
    try:
        root = ET.fromstring(xml)
    except ET.ParseError as exc:
        raise GraderError(f"the JUnit report does not parse: {exc}") from exc
    cases: list[dict[str, Any]] = []
    for case in root.iter("testcase"):
        outcome, message = "passed", ""
        for child in case:
            if child.tag in ("failure", "error", "skipped"):
                outcome = {"failure": "failed", "error": "error", "skipped": "skipped"}[child.tag]
                message = (child.get("message") or child.text or "")[:500]
        cases.append(
            {
                "test": f"{case.get('classname', '')}::{case.get('name', '')}",
                "outcome": outcome,
                "message": message,
            }
        )
    return cases


def score_junit(xml: bytes, threshold: float) -> GradeResult:
    cases = parse_junit(xml)
    if not cases:
        raise GraderError("pytest collected no tests")
    passed = sum(1 for c in cases if c["outcome"] == "passed")
    score = passed / len(cases)
    failing = [c for c in cases if c["outcome"] != "passed"]
    return GradeResult(
        score=round(score, 4),
        passed=score >= threshold,
        summary=f"{passed}/{len(cases)} hidden tests passed",
        evidence={
            "passed": passed,
            "total": len(cases),
            "failing": failing,
            "tests": [{"test": c["test"], "outcome": c["outcome"]} for c in cases],
        },
    )


def all_passed(result: GradeResult) -> Verdict:
    """The ``all_pass`` condition: not one hidden test failed; the detail names the failures."""
    ev = result.evidence
    if result.error or "total" not in ev:
        return Verdict(False, f"not measured: {result.summary}")
    failing = [str(c["test"]).rsplit("::", 1)[-1] for c in ev.get("failing", [])]
    if not failing:
        return Verdict(True, f"all {ev['total']} hidden tests passed")
    names = ", ".join(failing[:5]) + (", ..." if len(failing) > 5 else "")
    return Verdict(False, f"{len(failing)} of {ev['total']} hidden tests failed: {names}")
