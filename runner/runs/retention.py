"""How long a run's work-process evidence is kept: ``PRODPROVEN_EVIDENCE_RETENTION_DAYS``
(docs/evidence.md). With N > 0, the recordings (the live folder ``recordings/`` and
``recordings.tar``) and the workspace timeline (``timeline/``) of a finished run whose work
ended more than N days ago are deleted; its grade, result, archives and event log stay (the
timeline's ``timeline.sealed`` event with its hash included).

A run's work ended when it was submitted; a run never submitted (errored or cancelled on the
way) ended when it became errored or cancelled. Each deletion is announced first by the run's
event ``evidence.expired`` (what is removed: names, files, bytes, and the days), committed,
then done; a crash between the two leaves the event and the files, and the next pass deletes
the files without a second event. A run is skipped when none of its evidence is on disk, so
expiring again does nothing.
"""

from __future__ import annotations

import logging
import os
import shutil
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from prodproven.runner.errors import ProdprovenError
from prodproven.runner.runs.recording import ARCHIVE, RECORDINGS
from prodproven.runner.runs.store import EventRow, RunRow, Status, Store, utcnow
from prodproven.runner.runs.timeline import FOLDER
from prodproven.runner.runs.workspace import run_folder

EVENT = "evidence.expired"
EVERY_S = 3600.0
"""How often the due work expires evidence, at most, in one process."""
EVIDENCE = (ARCHIVE, f"{Path(ARCHIVE).stem}.partial", RECORDINGS, FOLDER)
"""What is deleted, by name in the run's folder (``recordings.partial``: an archive cut short)."""
FINISHED = (Status.graded, Status.errored, Status.cancelled)
ENDS = ("status.errored", "status.cancelled")
"""The events that end a run never submitted."""

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Expired:
    """A run's evidence deleted (or, in a dry run, due to be)."""

    run_id: str
    ended: datetime
    removed: list[str]
    """Names in the run's folder, in :data:`EVIDENCE`'s order."""
    files: int
    bytes: int

    def as_data(self) -> dict[str, Any]:
        return {
            "run": self.run_id,
            "ended": self.ended.isoformat(),
            "removed": self.removed,
            "files": self.files,
            "bytes": self.bytes,
        }


@dataclass(frozen=True)
class Removal:
    """What a run's ``evidence.expired`` event says: when, and after how many days."""

    at: datetime
    days: int


def removal(events: Iterable[tuple[str, datetime, dict[str, Any]]]) -> Removal | None:
    """The run's evidence removal, from its events (kind, at, data); None when none."""
    for kind, at, data in events:
        if kind == EVENT:
            return Removal(at, int(data.get("days", 0)))
    return None


def expire(
    store: Store, data_dir: Path, days: int, now: datetime, *, dry_run: bool = False
) -> list[Expired]:
    """Delete the evidence of every finished run whose work ended before ``now`` minus
    ``days`` (0: none), each after its event is committed; with ``dry_run``, only say what
    would be. Oldest first. Raises ProdprovenError naming the path that cannot be measured
    or removed."""
    if days <= 0:
        return []
    found = []
    for run_id, ended in _ended_before(store, now - timedelta(days=days)):
        root = run_folder(data_dir, run_id)
        paths = [root / name for name in EVIDENCE if (root / name).exists()]
        if not paths:
            continue
        files, size = _measure(run_id, paths)
        expired = Expired(run_id, ended, [p.name for p in paths], files, size)
        if not dry_run:
            _announce(store, expired, days, now)
            _delete(run_id, paths)
            log.info("run %s: evidence expired after %d days: %s", run_id, days, expired.removed)
        found.append(expired)
    return found


class Retention:
    """:func:`expire` as due work (``portal/campaigns.py`` ``due_work``): at most once every
    ``every_s`` in this process, with the settings' days."""

    def __init__(
        self,
        store: Store,
        data_dir: Path,
        days: int,
        every_s: float = EVERY_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.data_dir = data_dir
        self.days = days
        self.every_s = every_s
        self._clock = clock
        self._last: float | None = None

    def due(self) -> list[Expired]:
        """Expire what is due, unless ``days`` is 0 or the last pass (even a failed one) was
        less than ``every_s`` ago. Raises what :func:`expire` raises."""
        if self.days <= 0:
            return []
        now = self._clock()
        if self._last is not None and now - self._last < self.every_s:
            return []
        self._last = now
        return expire(self.store, self.data_dir, self.days, utcnow())


def _ended_before(store: Store, cutoff: datetime) -> list[tuple[str, datetime]]:
    """Each finished run whose work ended before ``cutoff``, with that time, oldest first:
    one query (the end event is looked up only for a run never submitted)."""
    end_event = (
        select(func.max(EventRow.at))
        .where(EventRow.run_id == RunRow.id, EventRow.kind.in_(ENDS))
        .scalar_subquery()
    )
    ended = func.coalesce(RunRow.submitted_at, RunRow.graded_at, end_event)
    query = (
        select(RunRow.id, ended)
        .where(RunRow.status.in_([s.value for s in FINISHED]), ended < cutoff)
        .order_by(ended)
    )
    with store.session() as s:
        return [(run_id, at) for run_id, at in s.execute(query)]


def _measure(run_id: str, paths: list[Path]) -> tuple[int, int]:
    """Files and bytes under ``paths``. Raises ProdprovenError."""
    files = size = 0
    try:
        for path in paths:
            if path.is_dir():
                for folder, _, names in os.walk(path):
                    files += len(names)
                    size += sum((Path(folder) / n).stat().st_size for n in names)
            else:
                files += 1
                size += path.stat().st_size
    except OSError as exc:
        raise ProdprovenError(f"run {run_id}: cannot measure its evidence: {exc}") from exc
    return files, size


def _announce(store: Store, expired: Expired, days: int, now: datetime) -> None:
    """Commit the run's ``evidence.expired`` event, unless a pass cut short left it."""
    data = {k: v for k, v in expired.as_data().items() if k != "run"} | {"days": days}
    with store.locked(expired.run_id) as (s, _):
        left = s.scalar(
            select(EventRow.id)
            .where(EventRow.run_id == expired.run_id, EventRow.kind == EVENT)
            .limit(1)
        )
        if left is None:
            s.add(EventRow(run_id=expired.run_id, at=now, kind=EVENT, data=data))


def _delete(run_id: str, paths: list[Path]) -> None:
    """Raises ProdprovenError naming the path that cannot be removed."""
    for path in paths:
        try:
            if path.is_dir():
                shutil.rmtree(path)
            else:
                path.unlink(missing_ok=True)
        except FileNotFoundError:  # another process expiring the same run
            continue
        except OSError as exc:
            raise ProdprovenError(f"run {run_id}: cannot remove {path}: {exc}") from exc
