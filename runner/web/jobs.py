"""Long operations (starting a run, submitting and grading it) run on worker threads so a
request never waits minutes. Everything they do is recorded in the store as they go, so a
crash of the server loses only the thread, never the run. Each job logs its start, its end
(with the run) and its failure (with a reference the candidate's page shows)."""

from __future__ import annotations

import logging
import secrets
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

from prodproven.runner.errors import AccessDenied, InvitationError, RunStateError
from prodproven.runner.runs.store import Run

log = logging.getLogger(__name__)
SHOWN = (AccessDenied, InvitationError, RunStateError)
"""Failures about the candidate's own situation (a revoked invitation, a run already
submitted), shown as they are. Any other failure is ours (the container engine, a bug): its
detail goes to the log, under a reference the page shows, and the run page shows assessors
the reason the run errored."""
FAILED = "something went wrong on our side; the firm was told (reference {})"
START_WORKERS = 16
"""Starts at once: a start that finds the machine full waits in the admission queue
(``lifecycle/admission.py``) on its worker, so the starts behind it still reach the queue and
show their place; admission, not this number, bounds how many runs are provisioned."""


class Jobs:
    """One queue per kind of work (``start``, ``grade``); one job per key (an invitation) at
    a time."""

    def __init__(self) -> None:
        self._pools = {
            "start": ThreadPoolExecutor(START_WORKERS, thread_name_prefix="start"),
            "grade": ThreadPoolExecutor(1, thread_name_prefix="grade"),
        }
        self._running: dict[str, Future[Run]] = {}
        self._failed: dict[str, str] = {}
        self._lock = threading.Lock()

    def submit(
        self, queue: str, key: str, work: Callable[[], Run], run_id: str | None = None
    ) -> bool:
        """Queue ``work`` under ``key``; False when a job for ``key`` is already queued.
        ``run_id``, the run it works on when known beforehand, goes to the log."""
        with self._lock:
            current = self._running.get(key)
            if current is not None and not current.done():
                return False
            self._failed.pop(key, None)
            future = self._pools[queue].submit(self._logged, queue, key, work, run_id)
            self._running[key] = future
        return True

    def _logged(self, queue: str, key: str, work: Callable[[], Run], run_id: str | None) -> Run:
        on = f" on run {run_id}" if run_id else ""
        log.info("%s job for %s started%s", queue, key, on)
        try:
            run = work()
        except BaseException as exc:
            reference = secrets.token_hex(4)
            log.exception("%s job for %s failed%s (reference %s)", queue, key, on, reference)
            with self._lock:
                self._failed[key] = str(exc) if isinstance(exc, SHOWN) else FAILED.format(reference)
            raise
        log.info("%s job for %s done: run %s is %s", queue, key, run.id, run.status.value)
        return run

    def active(self, key: str) -> bool:
        with self._lock:
            current = self._running.get(key)
            return current is not None and not current.done()

    def failure(self, key: str) -> str | None:
        with self._lock:
            return self._failed.get(key)

    def wait(self, key: str, timeout: float | None = None) -> None:
        with self._lock:
            current = self._running.get(key)
        if current is not None:
            current.exception(timeout=timeout)

    def shutdown(self) -> None:
        for pool in self._pools.values():
            pool.shutdown(wait=False, cancel_futures=True)
