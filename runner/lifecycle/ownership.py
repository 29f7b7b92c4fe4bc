"""Who acts on a run: one owner at a time, so two processes never both start, submit, grade,
cancel or recover one run.

The owner holds an exclusive, non-blocking ``flock`` on ``<run dir>/owner.lock`` while it
works; the kernel releases it when the owner exits, however it exits, so a run whose lock is
free and whose status is mid-transition was left by a process that died (recovery takes it
up: ``lifecycle/recovery.py``). A holder may take the lock again (one thread nests start,
submit and grade); another thread or process gets :class:`RunBusy`. Locks on one machine;
a cluster needs a lease in the database behind the same two methods.
"""

from __future__ import annotations

import fcntl
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from prodproven.runner.errors import RunStateError

LOCK_NAME = "owner.lock"


class RunBusy(RunStateError):
    """Another process (or thread) is acting on the run."""


@dataclass
class _Held:
    handle: IO[str]
    doing: str
    thread: int
    depth: int


class RunLocks:
    """The per-run locks of one data directory; ``folder`` gives a run's folder, ``name`` the
    lock file's name in it."""

    def __init__(self, folder: Callable[[str], Path], name: str = LOCK_NAME) -> None:
        self._folder = folder
        self._name = name
        self._held: dict[str, _Held] = {}
        self._guard = threading.Lock()

    @contextmanager
    def hold(self, run_id: str, doing: str) -> Iterator[None]:
        """Own ``run_id`` while the block runs. ``doing`` (e.g. "submitted") names the work,
        for the RunBusy raised to whoever else tries meanwhile. Raises RunBusy."""
        with self._guard:
            held = self._held.get(run_id)
            if held is not None and held.thread != threading.get_ident():
                raise RunBusy(f"run {run_id} is being {held.doing} by another thread")
            if held is None:
                held = _Held(self._acquire(run_id, doing), doing, threading.get_ident(), 0)
                self._held[run_id] = held
            held.depth += 1
        try:
            yield
        finally:
            with self._guard:
                held.depth -= 1
                if held.depth == 0:
                    del self._held[run_id]
                    held.handle.close()  # closing the file releases the lock

    def free(self, run_id: str) -> bool:
        """Whether no process owns ``run_id`` right now (a snapshot: use :meth:`hold` to act)."""
        with self._guard:
            if run_id in self._held:
                return False
        try:
            handle = (self._folder(run_id) / self._name).open("r")
        except FileNotFoundError:
            return True  # never owned
        with handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return False
            return True

    def _acquire(self, run_id: str, doing: str) -> IO[str]:
        folder = self._folder(run_id)
        folder.mkdir(parents=True, exist_ok=True)
        handle = (folder / self._name).open("a+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            owner_doing, _, pid = handle.read().strip().rpartition(" ")
            handle.close()
            raise RunBusy(
                f"run {run_id} is being {owner_doing or 'worked on'} by another process "
                f"({pid or 'unknown'}); try again when it is done"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"{doing} {os.getpid()}")
        handle.flush()
        return handle
