"""A run's lifecycle against the real engine: hidden material stays out until grading, the
archive is written and checksummed at submit, nothing is left running, a crashed runner's run
can be graded again, and a crashing submission is a graded zero, not an errored run."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from prodproven.runner import plugins
from prodproven.runner.errors import RunStateError
from prodproven.runner.grading.pipeline import ArchiveMismatch
from prodproven.runner.lifecycle.core import Runner
from prodproven.runner.runs.store import Status
from prodproven.runner.spec.challenge import Challenge, load_challenge
from prodproven.sandbox.environment import RUN_LABEL
from tests.conftest import BUILTIN

pytestmark = pytest.mark.docker


@pytest.fixture
def challenge() -> Challenge:
    return load_challenge(BUILTIN / "deploy-model", plugins.catalog())


@pytest.fixture
def quick_challenge(make_challenge: Callable[..., Path]) -> Challenge:
    """deploy-model with only the correctness grader and its requirement: a fast full
    grading."""
    root = make_challenge(
        lambda s: s.update(graders=s["graders"][:1], requirements=s["requirements"][:1])
    )
    return load_challenge(root, plugins.catalog())


def leftovers(docker_client: Any, run_id: str) -> list[str]:
    selector = {"label": f"{RUN_LABEL}={run_id}"}
    return [c.name for c in docker_client.containers.list(all=True, filters=selector)] + [
        v.name for v in docker_client.volumes.list(filters=selector)
    ]


def hidden_names() -> set[str]:
    return {p.name for p in (BUILTIN / "deploy-model" / "hidden").rglob("*") if p.is_file()}


def test_hidden_material_is_absent_from_workspace_before_grading(
    runner: Runner, challenge: Challenge
) -> None:
    run = runner.start(challenge, "ada")
    try:
        _, workspace = runner.workspace(run.id)
        listing = workspace.exec(
            ["find", "/", "-xdev", "-name", "*.py", "-o", "-name", "*.json"], user="0", timeout=60
        ).stdout
        found = {Path(line).name for line in listing.splitlines()}
        assert not (hidden_names() | {"expected.json", "single.json", "batch256.json"}) & found
        assert not workspace.exec(["test", "-e", "/grading/tests"], timeout=10).ok
    finally:
        runner.backend.remove_run(run.id)


def test_hidden_material_is_absent_from_the_challenge_image(
    docker_client: Any, challenge_image: str
) -> None:
    out = docker_client.containers.run(
        challenge_image,
        ["sh", "-c", "find / -xdev -name 'test_service.py' -o -name 'expected.json'"],
        remove=True,
        network_mode="none",
    )
    assert out.strip() == b""


def test_starter_files_and_generated_model_are_in_the_workspace(
    runner: Runner, challenge: Challenge
) -> None:
    run = runner.start(challenge, "ada")
    try:
        _, workspace = runner.workspace(run.id)
        listing = workspace.exec(["ls", "-l", "/workspace", "/workspace/model"], timeout=10).stdout
        assert "start.sh" in listing and "model.joblib" in listing and "MODEL_CARD.md" in listing
        assert (
            "candidate"
            in workspace.exec(["stat", "-c", "%U", "/workspace/app.py"], timeout=10).stdout
        )
    finally:
        runner.backend.remove_run(run.id)


def test_submit_archives_with_checksum_and_leaves_nothing_running(
    runner: Runner, challenge: Challenge, docker_client: Any
) -> None:
    run = runner.start(challenge, "ada")
    _, workspace = runner.workspace(run.id)
    workspace.exec(["sh", "-c", "echo notes > /workspace/NOTES.md"], timeout=10)
    submitted = runner.submit(run.id)
    archive = Path(submitted.archive_path or "")
    assert submitted.status is Status.submitted
    assert hashlib.sha256(archive.read_bytes()).hexdigest() == submitted.archive_sha256
    assert leftovers(docker_client, run.id) == []
    kinds = [e.kind for e in runner.store.events(run.id)]
    assert kinds.index("status.submitted") < kinds.index("archive.written")


def test_a_run_survives_a_runner_crash_and_is_graded_again(
    runner: Runner, quick_challenge: Challenge
) -> None:
    run = runner.start(quick_challenge, "ada")
    runner.overlay(run.id, BUILTIN / "deploy-model" / "solution")
    runner.submit(run.id)
    # The runner dies in the middle of grading: the store says "grading", nothing else.
    runner.store.transition(run.id, Status.grading, grading_attempts=1)
    graded = runner.grade(run.id)
    assert graded.status is Status.graded and graded.score == 100.0
    assert graded.result is not None and graded.result["attempt"] == 2


def test_a_submit_interrupted_before_its_archive_can_be_run_again(
    runner: Runner, challenge: Challenge
) -> None:
    run = runner.start(challenge, "ada")
    # The runner dies right after committing "submitted", before the archive is recorded.
    runner.store.transition(run.id, Status.submitted)
    resumed = runner.submit(run.id)
    assert resumed.status is Status.submitted and resumed.archive_path
    with pytest.raises(RunStateError, match="only running runs submit"):
        runner.submit(run.id)


def test_a_tampered_archive_is_refused_when_grading(
    runner: Runner, quick_challenge: Challenge
) -> None:
    run = runner.start(quick_challenge, "ada")
    submitted = runner.submit(run.id)
    Path(submitted.archive_path or "").write_bytes(b"not the archive")
    with pytest.raises(ArchiveMismatch, match="expected"):
        runner.grade(run.id)
    after = runner.store.get(run.id)
    assert after.status is Status.errored and "sha256" in (after.error or "")


def test_a_crashing_submission_is_graded_zero_with_the_reason(
    runner: Runner, quick_challenge: Challenge, tmp_path: Path
) -> None:
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "start.sh").write_text("#!/bin/sh\necho 'model server exploded' >&2\nexit 3\n")
    run = runner.run_scripted(quick_challenge, broken, "ada")
    assert run.status is Status.graded and run.score == 0.0
    grader = (run.result or {})["graders"][0]
    assert "model server exploded" in grader["summary"] and not grader["passed"]


def test_the_autopilot_script_runs_as_the_candidate(
    runner: Runner, quick_challenge: Challenge, tmp_path: Path
) -> None:
    submission = tmp_path / "auto"
    (submission / ".autopilot").mkdir(parents=True)
    (submission / ".autopilot" / "run.sh").write_text("id -u > /workspace/who\n")
    run = runner.start(quick_challenge, "ada")
    try:
        runner.overlay(run.id, submission)
        result = runner.autopilot(run.id)
        _, workspace = runner.workspace(run.id)
        assert result is not None and result.ok
        assert workspace.read_file("/workspace/who").strip() == b"1000"
        finished = [e for e in runner.store.events(run.id) if e.kind == "autopilot.finished"]
        assert json.dumps(finished[0].data)
    finally:
        runner.backend.remove_run(run.id)


@pytest.mark.machine_wide  # gc would remove the runs of tests running beside it
def test_gc_removes_leftovers_of_finished_runs_only(
    runner: Runner, challenge: Challenge, docker_client: Any
) -> None:
    running = runner.start(challenge, "ada")
    finished = runner.start(challenge, "bob")
    runner.store.transition(finished.id, Status.errored, error="runner died")
    try:
        removed = runner.gc()
        assert finished.id in removed and running.id not in removed
        assert leftovers(docker_client, finished.id) == []
        assert leftovers(docker_client, running.id) != []
    finally:
        runner.backend.remove_run(running.id)
