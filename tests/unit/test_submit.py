"""Submitting a run: ``submitted`` is committed before any container is touched, only a running
run (or one whose submit was cut off before its archives were recorded) submits, and the steps
record the archives before they remove the pod."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any, cast

import pytest

from prodproven.runner.errors import RunStateError
from prodproven.runner.lifecycle.core import errors_recorded
from prodproven.runner.lifecycle.submit import (
    SUBMIT_STEPS,
    SubmitJob,
    archive_services,
    archive_workspace,
    commit_submitted,
    find_workspace,
    record_archives,
    remove_pod,
    stop_live_parts,
)
from prodproven.runner.runs.archives import DataDirFull, entries
from prodproven.runner.runs.store import Run, RunChanged, Status, Store, utcnow
from prodproven.runner.runs.workspace import RunPaths
from prodproven.sandbox.environment import Sandbox
from tests.unit.test_archives import MIB, TarBox


def running_run(store: Store, deadline_in: timedelta = timedelta(minutes=30)) -> Run:
    run = store.create_run(
        challenge_id="c", challenge_version="1.0.0", challenge_path="/c", candidate="ada", mode="x"
    )
    store.transition(run.id, Status.provisioning)
    return store.transition(run.id, Status.running, deadline=utcnow() + deadline_in)


def test_a_running_run_is_committed_as_submitted_on_time(store: Store) -> None:
    run = running_run(store)
    submission = commit_submitted(store, run.id)
    assert submission.run.status is Status.submitted
    assert store.get(run.id).submitted_at is not None
    assert submission.late is False


def test_a_run_submitted_after_its_deadline_is_late(store: Store) -> None:
    run = running_run(store, deadline_in=timedelta(seconds=-1))
    assert commit_submitted(store, run.id).late is True


def test_a_submit_cut_off_before_its_archives_were_recorded_is_taken_up_again(
    store: Store,
) -> None:
    run = running_run(store)
    first = commit_submitted(store, run.id)
    again = commit_submitted(store, run.id)
    assert again.run.submitted_at == first.run.submitted_at
    kinds = [e.kind for e in store.events(run.id)]
    assert kinds.count("status.submitted") == 1


def test_a_submit_whose_archives_are_recorded_is_not_run_again(store: Store) -> None:
    run = running_run(store)
    commit_submitted(store, run.id)
    store.update(run.id, archive_path="/runs/x/workspace.tar", archive_sha256="0" * 64)
    with pytest.raises(RunStateError, match="only running runs submit"):
        commit_submitted(store, run.id)


def test_a_run_that_never_ran_refuses_to_submit_and_stays_as_it_is(store: Store) -> None:
    run = store.create_run(
        challenge_id="c", challenge_version="1.0.0", challenge_path="/c", candidate="ada", mode="x"
    )
    store.transition(run.id, Status.provisioning)
    with pytest.raises(RunStateError):
        commit_submitted(store, run.id)
    assert store.get(run.id).status is Status.provisioning


def test_nothing_changes_the_workspace_while_it_is_archived() -> None:
    assert SUBMIT_STEPS.index(stop_live_parts) < SUBMIT_STEPS.index(archive_workspace)


def test_the_archives_are_recorded_after_they_are_written_and_before_the_pod_goes() -> None:
    assert SUBMIT_STEPS[0] is find_workspace
    written = max(SUBMIT_STEPS.index(archive_workspace), SUBMIT_STEPS.index(archive_services))
    assert written < SUBMIT_STEPS.index(record_archives) < SUBMIT_STEPS.index(remove_pod)
    assert SUBMIT_STEPS[-1] is remove_pod


def test_a_full_data_directory_leaves_the_run_submitted_to_be_submitted_again(
    store: Store,
) -> None:
    run = running_run(store)
    commit_submitted(store, run.id)
    with pytest.raises(DataDirFull), errors_recorded(store, run.id):
        raise DataDirFull("no space left in the data directory")
    after = store.get(run.id)
    assert after.status is Status.submitted and after.archive_path is None
    assert commit_submitted(store, run.id).run.status is Status.submitted


def test_a_grader_whose_run_was_claimed_again_leaves_it_to_the_new_claimant(
    store: Store,
) -> None:
    run = running_run(store)
    commit_submitted(store, run.id)
    first = store.claim_grading(run.id).grading_attempts
    store.claim_grading(run.id)  # another process takes the grading up
    with pytest.raises(RunChanged), errors_recorded(store, run.id, first):
        store.transition(run.id, Status.graded, attempt=first)
    with pytest.raises(RuntimeError), errors_recorded(store, run.id, first):
        raise RuntimeError("the first grader's evaluation pod failed")
    after = store.get(run.id)
    assert (after.status, after.grading_attempts, after.error) == (Status.grading, 2, None)


def test_files_left_out_of_the_archive_are_a_finding_on_the_run_naming_them_and_the_cap(
    store: Store, tmp_path: Path
) -> None:
    run = running_run(store)
    reported: list[str] = []
    box = TarBox({"notes.md": b"notes", "big.bin": b"\0" * (2 * MIB)})
    job = SubmitJob(
        submission=commit_submitted(store, run.id),
        challenge=cast(Any, None),
        store=store,
        backend=cast(Any, None),
        provisioner=cast(Any, None),
        forwards=cast(Any, None),
        paths=RunPaths(tmp_path / "runs" / run.id),
        max_bytes=MIB,
        report=reported.append,
        workspace=cast(Sandbox, box),
    )
    job.paths.root.mkdir(parents=True)
    archive_workspace(job)
    [finding] = [e.data for e in store.events(run.id) if e.kind == "archive.left_out"]
    assert finding["files"] == [{"path": "big.bin", "bytes": 2 * MIB}]
    assert finding["cap_bytes"] == MIB and "big.bin" in finding["message"]
    assert reported == [finding["message"]]
    assert "notes.md" in {e.path for e in entries(job.paths.archive)}
