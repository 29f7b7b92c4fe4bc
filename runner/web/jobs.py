"""Long operations (starting a run, submitting and grading it) run on worker threads so a
request never waits minutes. Everything they do is recorded in the store as they go, so a
crash of the server loses only the thread, never the run. Each job logs its start, its end
(with the run) and its failure."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

from prodproven.runner.errors import ProdprovenError
from prodproven.runner.runs.store import Run

log = logging.getLogger(__name__)


class Jobs:
    """One queue per kind of work (``start``, ``grade``); one job per key (an invitation) at
    a time."""

    def __init__(self) -> None:
        self._pools = {
            "start": ThreadPoolExecutor(1, thread_name_prefix="start"),
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
        future.add_done_callback(lambda done: self._finished(key, done))
        return True

    @staticmethod
    def _logged(queue: str, key: str, work: Callable[[], Run], run_id: str | None) -> Run:
        on = f" on run {run_id}" if run_id else ""
        log.info("%s job for %s started%s", queue, key, on)
        try:
            run = work()
        except BaseException:
            log.exception("%s job for %s failed%s", queue, key, on)
            raise
        log.info("%s job for %s done: run %s is %s", queue, key, run.id, run.status.value)
        return run

    def _finished(self, key: str, future: Future[Run]) -> None:
        exc = future.exception()
        if exc is not None:
            with self._lock:
                self._failed[key] = (
                    str(exc) if isinstance(exc, ProdprovenError) else exc.__class__.__name__
                )

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
