"""Taking up runs left mid-transition by a process that stopped (a crash, a kill, a reboot).

A run whose status is not final and whose owner lock (``ownership.RunLocks``) is free has
nobody working on it. What is done depends on the status it was left in:

- ``created``/``provisioning``: its containers are removed and it is errored with the reason;
  nothing of the candidate's is lost (they never had the workspace), and a new run starts
  cleanly where a half-built one would not.
- ``queued``: the process waiting for room for it stopped; it is errored with the reason, so it
  does not block the queue (admission does the same to a queue's first run nobody waits for).
  A run that waited for room in a cluster (admitted, its pod pending there) is errored the
  same way and its pending pod removed: nobody would claim the pod once placed.
- ``running``, scripted: the process driving it is gone, so it is submitted and graded as its
  workspace stands (the event log says it was recovered).
- ``running``, interactive: the candidate may still be working; when no supervisor holds it,
  the data directory's supervisor (``prodproven supervise --all``) is started unless it runs,
  and takes it up: it submits it at its deadline.
- ``submitted``: archived again when its archive was never recorded, is missing or is not
  the recorded one (possible only while its workspace still exists; otherwise errored:
  the workspace was lost before it was archived), then graded.
- ``grading``: graded again from its archive (the dead attempt's evaluation pod is removed
  first, as every grading does).

Whatever the outcome, a run that ends here leaves no container behind.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol

from prodproven.runner.config import Settings
from prodproven.runner.errors import ProdprovenError
from prodproven.runner.lifecycle import supervisor
from prodproven.runner.lifecycle.admission import QUEUE_LOST
from prodproven.runner.lifecycle.cancel import Cancellable
from prodproven.runner.lifecycle.ownership import RunBusy, RunLocks
from prodproven.runner.runs.archives import sha256_of
from prodproven.runner.runs.store import UNFINISHED, Run, Status

PROVISIONING_LOST = "provisioning was interrupted: the process starting it stopped; start a new run"
WORKSPACE_LOST = "workspace lost before it was archived"

log = logging.getLogger(__name__)


class Recoverable(Cancellable, Protocol):
    """What recovery needs of the runner (``lifecycle.Runner`` is one)."""

    @property
    def locks(self) -> RunLocks: ...

    def owning(self, run_id: str, doing: str) -> AbstractContextManager[None]: ...

    def finish(self, run_id: str) -> Run: ...

    def grade(self, run_id: str) -> Run: ...


@dataclass(frozen=True)
class Recovered:
    """What recovery found and did for one run."""

    run_id: str
    found: str
    """The status the run was left in."""
    action: str
    status: str
    """Its status now."""
    detail: str = ""

    def line(self) -> str:
        tail = f" ({self.detail})" if self.detail else ""
        return f"run {self.run_id}: {self.found} -> {self.status}: {self.action}{tail}"

    def as_data(self) -> dict[str, Any]:
        return asdict(self)


class Recovery:
    """Takes up abandoned runs for ``runner``; ``spawn`` makes sure the data directory's
    supervisor process runs (``supervisor.spawn``)."""

    def __init__(
        self,
        runner: Recoverable,
        spawn: Callable[[Settings], int] = supervisor.spawn,
    ) -> None:
        self.runner = runner
        self._spawn = spawn
        self._supervisors = RunLocks(lambda run_id: runner.paths(run_id).root, supervisor.LOCK_NAME)

    def all(self) -> list[Recovered]:
        """Every unfinished run, oldest first; one run's failure does not stop the others."""
        runs = [r for r in self.runner.store.list_runs(results=False) if r.status in UNFINISHED]
        return [self.one(run.id) for run in reversed(runs)]

    def one(self, run_id: str) -> Recovered:
        run = self.runner.store.get(run_id)
        found = run.status.value
        if run.status not in UNFINISHED:
            return Recovered(run_id, found, "nothing to do", found)
        if run.status is Status.running and run.mode == "interactive":
            return self._supervise(run)
        try:
            with self.runner.owning(run_id, "recovered"):
                action = self._resume(self.runner.store.get(run_id))
        except RunBusy as exc:
            return Recovered(run_id, found, "left alone: another process owns it", found, str(exc))
        except ProdprovenError as exc:
            self._clean_if_over(run_id)
            return Recovered(run_id, found, "failed", self._status(run_id), str(exc))
        self._clean_if_over(run_id)
        return Recovered(run_id, found, action, self._status(run_id))

    # each status ---------------------------------------------------------------------------
    def _resume(self, run: Run) -> str:
        """Act on ``run`` (owned, re-read after taking it); returns what was done."""
        if run.status not in UNFINISHED or (
            run.status is Status.running and run.mode == "interactive"
        ):
            return "nothing to do"  # another process finished it before we owned it
        self._event(run, "recovery.started", {})
        if run.status is Status.queued:
            self.runner.store.transition(run.id, Status.errored, error=QUEUE_LOST)
            return "errored: nobody waited for it any more"
        if run.status in (Status.created, Status.provisioning):
            self.runner.backend.remove_run(run.id)
            self.runner.store.transition(run.id, Status.errored, error=PROVISIONING_LOST)
            return "torn down and errored"
        if run.status is Status.grading:
            self.runner.grade(run.id)
            return "graded again from its archive"
        if run.status is Status.submitted:
            return self._submitted(run)
        self.runner.finish(run.id)  # a scripted run whose driver stopped
        return "submitted as it stood and graded"

    def _submitted(self, run: Run) -> str:
        if run.archive_path is not None and self._archives_intact(run):
            pod = self.runner.backend.attach_pod(run.id, "workspace")
            if pod is not None:
                pod.remove()  # the submit stopped after recording, before removing it
            self.runner.grade(run.id)
            return "graded from its archive"
        pod = self.runner.backend.attach_pod(run.id, "workspace")
        if pod is None or pod.member("workspace") is None:
            self.runner.store.transition(run.id, Status.errored, error=WORKSPACE_LOST)
            return "errored: nothing left to archive"
        if run.archive_path is None:
            self.runner.finish(run.id)  # the submit stopped before recording its archives
            return "archived and graded"
        self._event(run, "recovery.rearchive", {"why": "archive missing or changed"})
        self.runner.store.update(
            run.id, archive_path=None, archive_sha256=None, service_archives=None
        )
        self.runner.finish(run.id)
        return "archived again and graded"

    def _archives_intact(self, run: Run) -> bool:
        expected = {str(run.archive_path): run.archive_sha256}
        for info in (run.service_archives or {}).values():
            expected[str(info["path"])] = str(info["sha256"])
        return all(Path(p).is_file() and sha256_of(Path(p)) == sha for p, sha in expected.items())

    def _supervise(self, run: Run) -> Recovered:
        found = run.status.value
        if not self._supervisors.free(run.id):
            return Recovered(run.id, found, "already supervised", found)
        pid = self._spawn(self.runner.settings)
        log = supervisor.log_path(self.runner.settings)
        self._event(run, supervisor.WANTED, {"pid": pid, "log": str(log), "by": "recovery"})
        return Recovered(run.id, found, "supervisor started", found, f"process {pid}")

    # helpers -------------------------------------------------------------------------------
    def _clean_if_over(self, run_id: str) -> None:
        """A run that has ended keeps no container (its archives are on disk)."""
        if self.runner.store.get(run_id).status not in UNFINISHED:
            self.runner.backend.remove_run(run_id)

    def _status(self, run_id: str) -> str:
        return self.runner.store.get(run_id).status.value

    def _event(self, run: Run, kind: str, data: dict[str, Any]) -> None:
        self.runner.store.add_event(run.id, kind, {"found": run.status.value, **data})


def in_background(runner: Callable[[], Recoverable]) -> threading.Thread:
    """Recover every abandoned run on a thread of its own (``serve`` at startup), logging one
    line per run; ``runner`` gives the process's runner (made on the thread: it needs the
    engine)."""

    def work() -> None:
        try:
            for one in Recovery(runner()).all():
                log.info("recovery: %s", one.line())
        except ProdprovenError as exc:
            log.error("recovery of abandoned runs did not run: %s", exc)
        except Exception:  # the edge of this thread: logged, never silent
            log.exception("recovery of abandoned runs failed")

    thread = threading.Thread(target=work, name="recovery", daemon=True)
    thread.start()
    return thread
