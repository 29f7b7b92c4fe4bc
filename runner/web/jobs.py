"""Long operations (starting a run, submitting and grading it) run on worker threads so a
request never waits minutes. Everything they do is recorded in the store as they go, so a
crash of the server loses only the thread, never the run."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

from prodproven.runner.errors import ProdprovenError


class Jobs:
    """One queue per kind of work (``start``, ``grade``); one job per key at a time."""

    def __init__(self) -> None:
        self._pools = {
            "start": ThreadPoolExecutor(1, thread_name_prefix="start"),
            "grade": ThreadPoolExecutor(1, thread_name_prefix="grade"),
        }
        self._running: dict[str, Future[object]] = {}
        self._failed: dict[str, str] = {}
        self._lock = threading.Lock()

    def submit(self, queue: str, key: str, work: Callable[[], object]) -> bool:
        """Queue ``work`` under ``key``; False when a job for ``key`` is already queued."""
        with self._lock:
            current = self._running.get(key)
            if current is not None and not current.done():
                return False
            self._failed.pop(key, None)
            future = self._pools[queue].submit(work)
            self._running[key] = future
        future.add_done_callback(lambda done: self._finished(key, done))
        return True

    def _finished(self, key: str, future: Future[object]) -> None:
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
