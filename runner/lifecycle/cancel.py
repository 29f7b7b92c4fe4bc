"""Ending a run on purpose: what its workspace holds is archived (best effort, recorded), its
containers removed, and ``cancelled`` committed with the reason. A queued run has nothing to
archive or remove: it leaves the queue. Cancelled is final."""

from __future__ import annotations

from typing import Protocol

from prodproven.runner.config import Settings
from prodproven.runner.errors import ProdprovenError, RunStateError
from prodproven.runner.lifecycle.admission import Admission
from prodproven.runner.runs.archives import write_archive
from prodproven.runner.runs.forwards import Forwards
from prodproven.runner.runs.store import ALLOWED, Run, Status, Store
from prodproven.runner.runs.workspace import RunPaths
from prodproven.sandbox.environment import Backend


class Cancellable(Protocol):
    """What cancelling needs of the runner (``lifecycle.Runner`` is one)."""

    @property
    def settings(self) -> Settings: ...

    @property
    def store(self) -> Store: ...

    @property
    def backend(self) -> Backend: ...

    @property
    def forwards(self) -> Forwards: ...

    def paths(self, run_id: str) -> RunPaths: ...


def withdraw_queued(admission: Admission, run_id: str, reason: str) -> Run | None:
    """Cancel ``run_id`` if it waits in ``queued`` (its waiting process owns it and stops at
    its next turn; it has no container); None when it is not queued. Raises RunStateError
    when ``reason`` is empty."""
    return admission.withdraw(run_id, _required(run_id, reason))


def cancel_run(runner: Cancellable, run_id: str, reason: str) -> Run:
    """Cancel ``run_id`` (the caller owns it). Raises RunStateError for a run that already
    has its end (graded, errored, cancelled) or when ``reason`` is empty."""
    reason = _required(run_id, reason)
    run = runner.store.get(run_id)
    if Status.cancelled not in ALLOWED[run.status]:
        raise RunStateError(
            f"run {run_id} is {run.status.value}; only a run that has not ended can be cancelled"
        )
    runner.forwards.close(run_id)
    if run.archive_path is None:
        _archive_what_is_left(runner, run_id)
    removed = runner.backend.remove_run(run_id)
    runner.store.add_event(run_id, "cancel.cleaned", {"objects_removed": removed})
    return runner.store.transition(run_id, Status.cancelled, error=reason)


def _required(run_id: str, reason: str) -> str:
    reason = reason.strip()
    if not reason:
        raise RunStateError(f"say why run {run_id} is cancelled (a reason is required)")
    return reason


def _archive_what_is_left(runner: Cancellable, run_id: str) -> None:
    """Archive the workspace if it is still there; the outcome is an event either way."""
    try:
        pod = runner.backend.attach_pod(run_id, "workspace")
        workspace = pod.member("workspace") if pod is not None else None
        if workspace is None:
            runner.store.add_event(run_id, "cancel.archive", {"archived": False, "why": "gone"})
            return
        paths = runner.paths(run_id)
        paths.root.mkdir(parents=True, exist_ok=True)
        written = write_archive(
            workspace,
            "/workspace",
            paths.archive,
            max_bytes=runner.settings.max_archive_mb * 2**20,
            leave_out=True,
        )
    except (ProdprovenError, OSError) as exc:
        runner.store.add_event(run_id, "cancel.archive", {"archived": False, "why": str(exc)})
        return
    runner.store.update(run_id, archive_path=str(paths.archive), archive_sha256=written.sha256)
    left_out = [entry.path for entry in written.left_out]
    runner.store.add_event(
        run_id,
        "cancel.archive",
        {"archived": True, "bytes": written.size, "sha256": written.sha256, "left_out": left_out},
    )
