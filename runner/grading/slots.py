"""Timing slots: how many gradings that time things may run at once on one machine.

A grader whose verdict depends on wall-clock measurements (``Grader.timed``: latency,
throughput, a lag against a bound) measures the machine as much as the candidate's work: two
such gradings at once on 2 cores each failed a latency SLO the reference meets alone. So a
grading whose challenge has a timed grader holds a slot from before its evaluation pod opens
until the pod is closed, and waits for one when ``count`` (``PRODPROVEN_TIMED_GRADINGS``) are
held. Gradings that time nothing take no slot and run beside anything.

A slot is an exclusive ``flock`` on one of ``count`` files under ``<data_dir>/grading-slots/``:
the kernel releases it when its process dies, however it dies, so a crash never leaks a slot.
Each take opens the file anew, and ``flock`` locks belong to the open file, so two threads of
one process (the web app grades on threads) exclude each other as two processes do. Locks on
one machine: a grading on a cluster node would need the node's own slots.
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from prodproven.runner.config import Settings

FOLDER = "grading-slots"
SLOT_EVENT = "grading.timing_slot"
"""The event a grading records when it takes a slot: ``slot``, ``waited_s``, ``timed``."""
POLL_S = 0.5
"""How often a waiting grading tries the slots again."""
REPORT_EVERY_S = 5.0
"""How often a waiting grading says that it waits."""

Reporter = Callable[[str], None]


class Slot:
    """One timing slot, held until :meth:`release` (which may be called more than once)."""

    def __init__(self, index: int, fd: int, waited_s: float) -> None:
        self.index = index
        self.waited_s = waited_s
        """Seconds spent waiting for it."""
        self._fd: int | None = fd

    @property
    def held(self) -> bool:
        return self._fd is not None

    def release(self) -> None:
        if self._fd is not None:
            fd, self._fd = self._fd, None
            fcntl.flock(fd, fcntl.LOCK_UN)  # explicit: a forked child may share the open file
            os.close(fd)


@dataclass(frozen=True)
class TimingSlots:
    """``count`` slots in ``folder``, shared by every process and thread grading there."""

    folder: Path
    count: int
    poll_s: float = POLL_S
    report_every_s: float = REPORT_EVERY_S

    @classmethod
    def of(cls, settings: Settings) -> TimingSlots:
        """The slots of ``settings``' data directory, ``timed_gradings`` of them."""
        return cls(settings.data_dir / FOLDER, settings.timed_gradings)

    def try_take(self) -> Slot | None:
        """A free slot, held from now on, or None when every slot is held. Raises OSError
        when a slot file cannot be created in ``folder``."""
        self.folder.mkdir(parents=True, exist_ok=True)
        for index in range(self.count):
            fd = os.open(self.folder / f"slot-{index}.lock", os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                continue
            return Slot(index, fd, 0.0)
        return None

    def take(self, report: Reporter) -> Slot:
        """A slot, waiting (polling every ``poll_s``) while all are held and calling ``report``
        when the wait starts and every ``report_every_s`` after. Raises OSError as
        :meth:`try_take` does."""
        started = time.monotonic()
        reported: float | None = None
        while (slot := self.try_take()) is None:
            now = time.monotonic()
            if reported is None or now - reported >= self.report_every_s:
                report(f"waiting for a timing slot: {self._running()} ({now - started:.0f} s)")
                reported = now
            time.sleep(self.poll_s)
        slot.waited_s = time.monotonic() - started
        return slot

    def _running(self) -> str:
        if self.count == 1:
            return "1 grading that times things is running"
        return f"{self.count} gradings that time things are running"
