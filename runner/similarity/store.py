"""Each run's fingerprints, kept in the ``run_fingerprints`` table, and the comparisons made of
them.

A run's fingerprints are computed from its submitted workspace archive: at grading (the
pipeline saves them as the artifact ``similarity/fingerprints.json``) or, for a run graded
before, the first time it is compared. Either way they are then kept in the table, with the
archive's sha256 and the method's version, so one query gives a whole challenge's and a
re-archived run or a changed method computes them again. The starter is taken out when
comparing, not when storing: the variant's starting workspace (``Starter``) is fingerprinted
once per comparison and its hashes removed from each run's.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Collection, Sequence
from datetime import datetime
from pathlib import Path
from tarfile import TarError
from typing import Any

from sqlalchemy import JSON, ForeignKey, String, delete, select
from sqlalchemy.orm import Mapped, mapped_column

from prodproven.runner.errors import RunStateError
from prodproven.runner.runs.provisioning import Provisioner
from prodproven.runner.runs.store import Base, Run, RunRow, Status, Store, utcnow
from prodproven.runner.similarity import compare, sources
from prodproven.runner.similarity.fingerprint import VERSION, Mark, of_documents

log = logging.getLogger(__name__)

ARTIFACT = "similarity/fingerprints.json"
"""The grading artifact holding the fingerprints computed at grading."""

Starter = Callable[[Run], Sequence[Path]]
"""The folders of a run's starting workspace, in overlay order (``Material.workspace`` of the
run's challenge and variant)."""


class RunFingerprintRow(Base):
    __tablename__ = "run_fingerprints"
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id"), primary_key=True)
    challenge_id: Mapped[str] = mapped_column(String(64), index=True)
    version: Mapped[str] = mapped_column(String(32))
    archive_sha256: Mapped[str] = mapped_column(String(64))
    files: Mapped[list[str]] = mapped_column(JSON)
    marks: Mapped[list[list[int]]] = mapped_column(JSON)
    """Each fingerprint as ``[hash, index into files, first line, last line]``."""
    created_at: Mapped[datetime] = mapped_column()


def encode(marks: Sequence[Mark], archive_sha256: str) -> dict[str, Any]:
    """The fingerprints as JSON types: the files once, each mark pointing into them."""
    files = sorted({m.path for m in marks})
    index = {path: i for i, path in enumerate(files)}
    return {
        "version": VERSION,
        "archive_sha256": archive_sha256,
        "files": files,
        "marks": [[m.hash, index[m.path], m.first, m.last] for m in marks],
    }


def decode(files: Sequence[str], marks: Sequence[Sequence[int]]) -> list[Mark]:
    return [Mark(h, files[i], first, last) for h, i, first, last in marks]


def of_archive(archive: Path, archive_sha256: str) -> dict[str, Any]:
    """The encoded fingerprints of a workspace archive. Raises OSError, tarfile.TarError."""
    return encode(of_documents(sources.of_archive(archive)), archive_sha256)


def marks_of(store: Store, run: Run) -> list[Mark]:
    """The run's fingerprints: kept ones when they are of its archive and this method, else
    the grading artifact's, else computed from the archive; kept for next time. Raises
    RunStateError for a run without an archive, OSError and TarError for an unreadable one."""
    if run.archive_path is None or run.archive_sha256 is None:
        raise RunStateError(f"run {run.id} has no workspace archive to fingerprint")
    with store.session() as s:
        row = s.get(RunFingerprintRow, run.id)
        if row is not None and (row.version, row.archive_sha256) == (VERSION, run.archive_sha256):
            return decode(row.files, row.marks)
    doc = _artifact(store, run) or of_archive(Path(run.archive_path), run.archive_sha256)
    with store.session() as s:
        row = s.get(RunFingerprintRow, run.id)
        if row is None:
            row = RunFingerprintRow(run_id=run.id)
            s.add(row)
        row.challenge_id = run.challenge_id
        row.version = VERSION
        row.archive_sha256 = run.archive_sha256
        row.files = doc["files"]
        row.marks = doc["marks"]
        row.created_at = utcnow()
    return decode(doc["files"], doc["marks"])


def _artifact(store: Store, run: Run) -> dict[str, Any] | None:
    """The fingerprints the run's latest grading saved, when they are of its archive and this
    method."""
    saved = [a for a in store.artifacts(run.id) if a.name == ARTIFACT]
    if not saved:
        return None
    try:
        doc: dict[str, Any] = json.loads(Path(saved[-1].path).read_text())
    except (OSError, ValueError):
        return None
    fits = (doc.get("version"), doc.get("archive_sha256")) == (VERSION, run.archive_sha256)
    return doc if fits else None


def _starter_hashes(run: Run, starter: Starter, seen: dict[tuple[Path, ...], set[int]]) -> set[int]:
    roots = tuple(starter(run))
    if roots not in seen:
        seen[roots] = {m.hash for m in of_documents(sources.of_folders(roots))}
    return seen[roots]


def graded_runs(store: Store, challenge_id: str, among: Collection[str] | None) -> list[Run]:
    """The challenge's graded runs with an archive, only those in ``among`` when given."""
    return [
        run
        for run in store.list_runs(status=Status.graded, results=False)
        if run.challenge_id == challenge_id
        and run.archive_path is not None
        and (among is None or run.id in among)
    ]


def starter_from(provisioner: Provisioner) -> Starter:
    """The starter of each run from the provisioner: its challenge's and variant's
    ``Material.workspace`` (generated material is made once and cached)."""
    return lambda run: provisioner.material(provisioner.challenge_of(run), run.variant).workspace


def forget_orphans(store: Store) -> int:
    """Delete the fingerprints of runs that no longer have an archive (``candidate forget``
    removes a forgotten candidate's); how many there were."""
    orphans = select(RunRow.id).where(RunRow.archive_path.is_(None))
    with store.session() as s:
        statement = delete(RunFingerprintRow).where(RunFingerprintRow.run_id.in_(orphans))
        return int(s.connection().execute(statement).rowcount)


class Forgetting:
    """The fingerprints as ``candidate forget`` sees them (a ``candidates.Keeper``)."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def forget(self, candidate: object) -> int:
        """Delete the fingerprints of the runs whose archive is gone, the forgotten person's
        among them; how many."""
        return forget_orphans(self.store)


def _own(
    store: Store,
    runs: Sequence[Run],
    starter: Starter,
    seen: dict[tuple[Path, ...], set[int]] | None = None,
) -> dict[str, compare.Fingerprints]:
    """Each run's fingerprints without its starter's, after :func:`forget_orphans`; a run whose
    archive cannot be read is logged and left out. ``seen``: the starters fingerprinted so
    far, by folders."""
    forget_orphans(store)
    seen = {} if seen is None else seen
    found: dict[str, compare.Fingerprints] = {}
    for run in runs:
        try:
            marks = marks_of(store, run)
        except (OSError, TarError, RunStateError) as exc:
            log.warning("run %s left out of the similarity check: %s", run.id, exc)
            continue
        found[run.id] = compare.own(marks, _starter_hashes(run, starter, seen))
    return found


def challenge_pairs(
    store: Store,
    challenge_id: str,
    starter: Starter,
    *,
    among: Collection[str] | None = None,
    threshold: float = compare.THRESHOLD,
) -> list[compare.Pair]:
    """Every pair of the challenge's graded runs (only those in ``among`` when given) scoring
    at least ``threshold``, highest first."""
    runs = _own(store, graded_runs(store, challenge_id, among), starter)
    return compare.flagged(runs, threshold)


def pairs_of(
    store: Store,
    run: Run,
    starter: Starter,
    *,
    among: Collection[str] | None = None,
    threshold: float = compare.THRESHOLD,
) -> list[compare.Pair]:
    """The pairs of ``run`` with each other graded run of its challenge (only those in
    ``among`` when given) scoring at least ``threshold``, highest first; ``run`` is ``run_a``
    of each; none, without fingerprinting, when there is no other. Raises RunStateError,
    saying why, when ``run`` cannot be compared: not graded, its archive missing or
    unreadable, too few fingerprints of its own."""
    if run.status is not Status.graded:
        raise RunStateError(
            f"run {run.id} is {run.status.value}, not graded: only graded submissions are compared"
        )
    others = [r for r in graded_runs(store, run.challenge_id, among) if r.id != run.id]
    if not others:
        return []
    seen: dict[tuple[Path, ...], set[int]] = {}
    try:
        mine = compare.own(marks_of(store, run), _starter_hashes(run, starter, seen))
    except (OSError, TarError) as exc:
        raise RunStateError(
            f"the fingerprints of run {run.id} could not be made from its archive: {exc}"
        ) from exc
    if len(mine) < compare.MIN_FINGERPRINTS:
        raise RunStateError(
            f"run {run.id} has {len(mine)} fingerprints of its own beyond the starting "
            f"workspace, fewer than the {compare.MIN_FINGERPRINTS} needed to compare it"
        )
    runs = _own(store, others, starter, seen)
    found = [compare.flagged_pair(run.id, mine, other, runs[other], threshold) for other in runs]
    return sorted((p for p in found if p is not None), key=lambda p: (-p.score, p.run_b))


def run_pair(store: Store, run_a: Run, run_b: Run, starter: Starter) -> compare.Pair | None:
    """The two runs compared (None when either is too small to compare). Raises
    RunStateError for a run without an archive, OSError and TarError for an unreadable one."""
    seen: dict[tuple[Path, ...], set[int]] = {}
    a = compare.own(marks_of(store, run_a), _starter_hashes(run_a, starter, seen))
    b = compare.own(marks_of(store, run_b), _starter_hashes(run_b, starter, seen))
    return compare.pair(run_a.id, a, run_b.id, b)
