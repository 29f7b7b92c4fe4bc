"""The due work of a data directory, done every few seconds on a thread of its own: the
outbox's due email and the campaigns' due steps (for the data directory's supervisor,
``supervisor.AllSupervisor``, and ``prodproven serve``)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

MAIL_EVERY_S = 5.0
"""How often it does the due work (an email or a campaign's step waits at most this long)."""

DueWork = Callable[[], object]  # done when due: Outbox.deliver_due, CampaignDesk.run_due

log = logging.getLogger(__name__)


class DueLoop:
    """Does each piece of ``work`` in turn every ``every_s`` (for the data directory's
    supervisor and ``prodproven serve``). A failure (the store unreachable, say: the outbox and
    campaigns record their items' own) is logged, never raised, and tried again next time."""

    def __init__(self, work: Sequence[DueWork], every_s: float = MAIL_EVERY_S) -> None:
        self.work = list(work)
        self.every_s = every_s

    def once(self) -> None:
        for work in self.work:
            try:
                work()
            except Exception:  # the edge of the due-work thread: logged, tried again next time
                log.exception("due work %s failed", getattr(work, "__qualname__", work))

    @contextmanager
    def running(self, *stops: threading.Event) -> Iterator[None]:
        """Do the work every ``every_s`` on a thread while the block runs (until a ``stops``)."""
        done = threading.Event()

        def loop() -> None:
            while not any(e.is_set() for e in (done, *stops)):
                self.once()
                done.wait(self.every_s)

        thread = threading.Thread(target=loop, name="due-work", daemon=True)
        thread.start()
        try:
            yield
        finally:
            done.set()
            thread.join(timeout=30)
