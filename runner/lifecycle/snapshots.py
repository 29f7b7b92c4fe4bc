"""Snapshots of a running run's workspace into its timeline (``runs/timeline.py``): every
``PRODPROVEN_SNAPSHOT_EVERY_S`` while the run is supervised, on a thread of their own so a slow
snapshot never delays an incident or the deadline, and once at submit, before the workspace is
archived, after which the timeline is sealed.

The runner reads the workspace through the engine (``Sandbox.archive_chunks``, the way the
submit archive is read): nothing runs inside the container, so the candidate can neither stop
nor alter a snapshot. A snapshot that fails is logged (and recorded once per distinct error as
the event ``timeline.failed``, unless the submit sealed the timeline meanwhile) and tried again
at the next one; it never fails the run.
"""

from __future__ import annotations

import logging
import threading
import time

from prodproven.runner.config import Settings
from prodproven.runner.runs.archives import MIB
from prodproven.runner.runs.store import Store, utcnow
from prodproven.runner.runs.timeline import Outcome, Taken, timeline_of
from prodproven.runner.runs.workspace import RunPaths
from prodproven.sandbox.environment import Pod, Sandbox

WORKSPACE = "/workspace"
SLOWDOWN = 20
"""A snapshot that took T seconds puts the next one at least this many times T later, so
snapshotting takes at most 1/SLOWDOWN of the time even of a workspace made slow to read."""

log = logging.getLogger(__name__)


class Snapshots:
    """The snapshots of run ``run_id`` (whose files are under ``paths``) into its timeline,
    capped at ``cap_bytes``, every ``every_s`` when :meth:`tick` is called often enough."""

    def __init__(
        self, store: Store, run_id: str, paths: RunPaths, *, cap_bytes: int, every_s: float = 60
    ) -> None:
        self.store = store
        self.run_id = run_id
        self.timeline = timeline_of(paths.root)
        self.cap_bytes = cap_bytes
        self.every_s = every_s
        self._next = 0.0
        self._thread: threading.Thread | None = None
        self._last_error: str | None = None

    @classmethod
    def of(cls, store: Store, run_id: str, paths: RunPaths, settings: Settings) -> Snapshots:
        """With the cap and interval of ``settings``."""
        return cls(
            store,
            run_id,
            paths,
            cap_bytes=settings.timeline_cap_mb * MIB,
            every_s=settings.snapshot_every_s,
        )

    def tick(self, pod: Pod) -> None:
        """Start a snapshot of ``pod``'s workspace on a thread when one is due and none is
        under way (the first at the first tick)."""
        busy = self._thread is not None and self._thread.is_alive()
        if busy or time.monotonic() < self._next:
            return
        self._thread = threading.Thread(
            target=self._periodic, args=(pod,), name=f"snapshot-{self.run_id}", daemon=True
        )
        self._thread.start()

    def _periodic(self, pod: Pod) -> None:
        started = time.monotonic()
        try:
            workspace = pod.member("workspace")
            if workspace is not None:
                self.take(workspace)
        except Exception as exc:  # the edge of the snapshot's thread: logged, tried again
            self._failed(exc)
        took = time.monotonic() - started
        self._next = started + max(self.every_s, SLOWDOWN * took)

    def take(self, workspace: Sandbox) -> Taken | None:
        """Snapshot ``workspace``'s /workspace now; None when that failed (logged, with the
        event ``timeline.failed``). The first snapshot that reaches the cap records the event
        ``timeline.capped``."""
        try:
            taken = self.timeline.snapshot(
                workspace.archive_chunks(f"{WORKSPACE}/."), utcnow(), cap_bytes=self.cap_bytes
            )
        except Exception as exc:  # a snapshot never fails the run: logged, tried again
            self._failed(exc)
            return None
        if taken.outcome is Outcome.capped:
            self.store.add_event(
                self.run_id,
                "timeline.capped",
                {
                    "cap_bytes": self.cap_bytes,
                    "bytes": taken.total_bytes,
                    "message": f"the workspace timeline reached its cap of "
                    f"{self.cap_bytes / MIB:.0f} MiB (PRODPROVEN_TIMELINE_CAP_MB): no snapshot "
                    "is taken after this; the submit archive still holds the final workspace",
                },
            )
        return taken

    def final(self, workspace: Sandbox) -> None:
        """The snapshot at submit, then the timeline sealed: the event ``timeline.sealed``
        says what it holds, with the sha256 of its index. Failures are logged, never raised."""
        self.take(workspace)
        try:
            seal = self.timeline.seal()
        except OSError as exc:
            self._failed(exc)
            return
        self.store.add_event(self.run_id, "timeline.sealed", dict(seal.__dict__))

    def _failed(self, exc: BaseException) -> None:
        error = f"{exc.__class__.__name__}: {exc}"
        if self.timeline.sealed:  # a periodic one caught by the submit removing the pod
            log.info("snapshot of run %s after its submit: %s", self.run_id, error)
            return
        log.warning("snapshot of run %s failed: %s", self.run_id, error)
        if error != self._last_error:
            self._last_error = error
            try:
                self.store.add_event(self.run_id, "timeline.failed", {"error": error})
            except Exception:  # the store too: the log has it
                log.exception("recording the failed snapshot of run %s failed", self.run_id)
