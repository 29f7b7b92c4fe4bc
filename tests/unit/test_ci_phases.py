"""The two phases of infra/dev.sh test's Docker tests: those marked to run alone (``timing``,
``engine_restart``, ``machine_wide``) go one at a time, the others three at a time, and those
marked ``release`` wait for the release tier. These
checks read the test modules' source, so that a test that must run alone cannot silently land
in the parallel phase."""

from __future__ import annotations

import ast
import re
import tomllib
from collections.abc import Iterator
from pathlib import Path

import yaml

from prodproven.runner.spec.model import CHALLENGE_ID
from tests.conftest import BUILTIN, REPO_ROOT

DOCKER_TESTS = [REPO_ROOT / "tests" / "integration", REPO_ROOT / "tests" / "e2e"]
TIMED_KINDS = {"load", "capacity", "incident"}
"""Grader kinds that measure latency or time on this machine: tests running beside them skew
what they measure. (claims is not one: it compares CPU time, which other work does not
stretch.)"""
CALLS_THAT_RUN_ALONE = {
    "engine_restart": ("docker.pid",),
    "machine_wide": (".gc()", '"gc"', "losetup("),
}
"""What in a test's body makes it act beyond its own runs, and the marker it then needs."""


def marks_in(node: ast.AST) -> set[str]:
    """The names X of every ``pytest.mark.X`` under ``node``."""
    return {
        found.attr
        for found in ast.walk(node)
        if isinstance(found, ast.Attribute)
        and isinstance(found.value, ast.Attribute)
        and found.value.attr == "mark"
        and isinstance(found.value.value, ast.Name)
        and found.value.value.id == "pytest"
    }


def module_marks(tree: ast.Module) -> set[str]:
    """The markers of the module's ``pytestmark``."""
    return {
        mark
        for statement in tree.body
        if isinstance(statement, ast.Assign)
        and any(isinstance(t, ast.Name) and t.id == "pytestmark" for t in statement.targets)
        for mark in marks_in(statement.value)
    }


def docker_test_modules() -> list[Path]:
    return sorted(path for folder in DOCKER_TESTS for path in folder.glob("test_*.py"))


def functions_of(path: Path) -> Iterator[tuple[str, str, set[str]]]:
    """Each test function of a module: its name, its source, and its markers (its own and the
    module's)."""
    source = path.read_text()
    tree = ast.parse(source)
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name.startswith("test_"):
            own = set().union(*(marks_in(d) for d in node.decorator_list))
            yield node.name, ast.get_source_segment(source, node) or "", own | module_marks(tree)


def timed_challenges(tree: ast.Module) -> set[str]:
    """The built-in challenges a module names (e.g. ``validate_json("deploy-model", ...)``)
    whose spec has a grader of a timed kind."""
    named = {
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and re.fullmatch(CHALLENGE_ID, node.value)
        and (BUILTIN / node.value / "challenge.yaml").is_file()
    }
    return {challenge for challenge in named if grader_kinds(challenge) & TIMED_KINDS}


def grader_kinds(challenge: str) -> set[str]:
    """The kinds of a built-in challenge's graders, read from its spec as written (a challenge
    being authored may not load yet)."""
    spec = yaml.safe_load((BUILTIN / challenge / "challenge.yaml").read_text())
    return {str(grader["kind"]) for grader in spec.get("graders", [])}


def test_every_e2e_module_grading_a_challenge_with_a_timed_grader_is_marked_timing() -> None:
    timed: dict[str, set[str]] = {}
    for path in sorted((REPO_ROOT / "tests" / "e2e").glob("test_*.py")):
        tree = ast.parse(path.read_text())
        if challenges := timed_challenges(tree):
            timed[path.name] = challenges
            assert "timing" in module_marks(tree), (
                f"{path.name} grades {sorted(challenges)}, whose graders time the machine: "
                "mark the module `timing` (pytestmark) so that it runs alone"
            )
    # The rule sees what it must (it would pass vacuously if it found nothing).
    assert set(timed) >= {
        "test_capacity_plan.py",
        "test_deploy_model.py",
        "test_incident_response.py",
        "test_web_browser.py",
    }
    assert not {"test_fix_drift.py", "test_review_ai_change.py"} & set(timed)


def test_a_docker_test_acting_beyond_its_own_runs_is_marked_to_run_alone() -> None:
    seen: dict[str, list[str]] = {marker: [] for marker in CALLS_THAT_RUN_ALONE}
    for path in docker_test_modules():
        for name, body, marks in functions_of(path):
            for marker, calls in CALLS_THAT_RUN_ALONE.items():
                if any(call in body for call in calls):
                    seen[marker].append(name)
                    assert marker in marks, f"{path.name}::{name} must be marked {marker}"
    assert seen["engine_restart"] == [
        "test_a_run_whose_engine_restarted_mid_run_is_still_submitted_and_graded"
    ]
    assert "test_gc_removes_leftovers_of_finished_runs_only" in seen["machine_wide"]


def test_the_docker_phases_split_on_registered_markers_and_lose_no_test() -> None:
    script = (REPO_ROOT / "infra" / "dev.sh").read_text()
    found = re.search(r'^\s*alone="([^"]+)"$', script, re.MULTILINE)
    assert found, "infra/dev.sh names the markers that run alone in alone=..."
    alone = set(found.group(1).split()) - {"or"}
    pytest_config = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["tool"]["pytest"]
    options = pytest_config["ini_options"]
    registered = {marker.split(":")[0] for marker in options["markers"]}
    assert alone == {"timing", "engine_restart", "machine_wide"} and alone <= registered
    # A misspelt marker fails collection rather than sending its test to the parallel phase.
    assert "--strict-markers" in options["addopts"].split()
    # The parallel phase takes exactly what the one-at-a-time phase leaves; both leave the
    # slow repeats marked `release` to the release tier, which runs them.
    assert "release" in registered
    assert '-m "not ($alone or release or cluster)"' in script
    assert '-m "($alone) and not release"' in script
    # The cluster's tests go one after the other beside the parallel phase, in one process:
    # they share one cluster and kill its nodes.
    assert "cluster" in registered and '-m "cluster and not release"' in script
    assert "-m release" in script.split("gate)")[1]
