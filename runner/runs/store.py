"""The store: runs, their events, probe samples and artifacts, through SQLAlchemy so the
default SQLite file can be swapped for a PostgreSQL URL.

Every status change and event is committed before the runner acts on it, so a crash leaves a
run whose last committed status says what to do next (resume, archive, re-grade).
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from enum import Enum, StrEnum
from pathlib import Path
from typing import Any

from sqlalchemy import (
    JSON,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
    event,
    select,
    update,
)
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Dialect, Engine, make_url
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, defer, mapped_column, sessionmaker
from sqlalchemy.types import TypeDecorator

from prodproven.runner.errors import RunNotFound, RunStateError
from prodproven.runner.runs import connect, schema, storefile


class RunChanged(RunStateError):
    """Another process changed the run between what a caller read and what it writes (a
    grader whose attempt was claimed again): the caller must not act on what it read."""


class Status(StrEnum):
    created = "created"
    queued = "queued"
    provisioning = "provisioning"
    running = "running"
    submitted = "submitted"
    grading = "grading"
    graded = "graded"
    errored = "errored"
    cancelled = "cancelled"


ALLOWED: dict[Status, set[Status]] = {
    Status.created: {Status.queued, Status.provisioning, Status.errored, Status.cancelled},
    Status.queued: {Status.provisioning, Status.errored, Status.cancelled},
    Status.provisioning: {Status.queued, Status.running, Status.errored, Status.cancelled},
    Status.running: {Status.submitted, Status.errored, Status.cancelled},
    Status.submitted: {Status.grading, Status.errored, Status.cancelled},
    Status.grading: {Status.graded, Status.errored, Status.grading, Status.cancelled},
    Status.graded: {Status.grading},
    Status.errored: {Status.grading},
    Status.cancelled: set(),
}
"""Which status may follow which. A run waits in ``queued`` while the machine has no room for
it (``lifecycle/admission.py``), or, admitted, while the cluster has no node with room for its
pod (``provisioning -> queued -> provisioning``, ``lifecycle/start.py``). Re-grading moves
graded/errored runs with an archive back to grading; errored runs without an archive can only
be inspected. A run not yet graded can be cancelled on purpose (the reason goes to ``error``);
cancelled is final."""

UNFINISHED = (
    Status.created,
    Status.queued,
    Status.provisioning,
    Status.running,
    Status.submitted,
    Status.grading,
)
"""Statuses a run passes through on its way to a result: a run found in one with nobody
acting on it was left by a process that stopped (``lifecycle/recovery.py``)."""


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_run_id() -> str:
    return secrets.token_hex(5)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite drops the zone; PostgreSQL gives
    the session's)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC) if value is not None else None


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UTCDateTime}


VERDICT_FIELDS = ("passed", "pass_score", "requirements")
"""The fields of a result document a listing keeps: enough for each run's verdict."""


class RunRow(Base):
    __tablename__ = "runs"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    challenge_id: Mapped[str] = mapped_column(String(64), index=True)
    challenge_version: Mapped[str] = mapped_column(String(32))
    challenge_path: Mapped[str] = mapped_column(Text)
    candidate: Mapped[str] = mapped_column(String(200), index=True)
    mode: Mapped[str] = mapped_column(String(16))
    variant: Mapped[int | None] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), index=True)
    created_at: Mapped[datetime] = mapped_column()
    deadline: Mapped[datetime | None] = mapped_column()
    submitted_at: Mapped[datetime | None] = mapped_column()
    graded_at: Mapped[datetime | None] = mapped_column()
    archive_path: Mapped[str | None] = mapped_column(Text)
    archive_sha256: Mapped[str | None] = mapped_column(String(64))
    service_archives: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    score: Mapped[float | None] = mapped_column(Float)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    error: Mapped[str | None] = mapped_column(Text)
    grading_attempts: Mapped[int] = mapped_column(Integer, default=0)


class EventRow(Base):
    __tablename__ = "events"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id"), index=True)
    at: Mapped[datetime] = mapped_column()
    kind: Mapped[str] = mapped_column(String(64))
    data: Mapped[dict[str, Any]] = mapped_column(JSON)


class ProbeSampleRow(Base):
    """One SLO probe of a run's live service (``seq`` is the prober's own counter)."""

    __tablename__ = "probe_samples"
    __table_args__ = (UniqueConstraint("run_id", "seq"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id"), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    t: Mapped[float] = mapped_column(Float)
    status: Mapped[int | None] = mapped_column(Integer)
    latency_ms: Mapped[float | None] = mapped_column(Float)
    correct: Mapped[bool | None]
    error: Mapped[str | None] = mapped_column(Text)


class ArtifactRow(Base):
    __tablename__ = "artifacts"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    path: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column()


@dataclass(frozen=True)
class Run:
    """A run as the rest of the runner sees it (a plain snapshot, not a live ORM row)."""

    id: str
    challenge_id: str
    challenge_version: str
    challenge_path: str
    candidate: str
    mode: str
    variant: int | None
    status: Status
    created_at: datetime
    deadline: datetime | None
    submitted_at: datetime | None
    graded_at: datetime | None
    archive_path: str | None
    archive_sha256: str | None
    service_archives: dict[str, Any] | None
    score: float | None
    result: dict[str, Any] | None
    error: str | None
    grading_attempts: int

    @classmethod
    def from_row(cls, row: RunRow, result: bool = True) -> Run:
        skipped = ("status", "result")
        return cls(
            **{f: getattr(row, f) for f in cls.__dataclass_fields__ if f not in skipped},
            status=Status(row.status),
            result=row.result if result else None,
        )


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


class Store:
    def __init__(self, url: str, *, busy_seconds: float = 30.0) -> None:
        """The store at ``url``. SQL parameters (emails, token hashes) never appear in error
        texts; a SQLite store waits up to ``busy_seconds`` for another process holding it,
        and its file is checked first (``storefile``)."""
        parsed = make_url(url)
        sqlite = parsed.get_backend_name() == "sqlite"
        options = {"timeout": busy_seconds} if sqlite else {}
        self.engine: Engine = connect.engine(parsed, options)
        database = self.engine.url.database
        if sqlite and database and database != ":memory:" and "mode=memory" not in url:
            storefile.prepare(Path(database))
            translate = storefile.Translator(Path(database), busy_seconds)
            event.listen(self.engine, "handle_error", translate)
        if sqlite:
            event.listen(self.engine, "connect", _sqlite_pragmas)
        else:
            event.listen(self.engine, "handle_error", connect.Unreachable(parsed))
        schema.upgrade(self.engine)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """One transaction: committed when the block ends, rolled back when it raises."""
        with self._sessions.begin() as session:
            yield session

    def create_run(
        self,
        *,
        challenge_id: str,
        challenge_version: str,
        challenge_path: str,
        candidate: str,
        mode: str,
        variant: int | None = None,
        deadline: datetime | None = None,
        run_id: str | None = None,
    ) -> Run:
        """A new run, ``created``; ``run_id`` when the caller picked it (``new_run_id``)."""
        run_id = run_id or new_run_id()
        now = utcnow()
        with self.session() as s:
            row = RunRow(
                id=run_id,
                challenge_id=challenge_id,
                challenge_version=challenge_version,
                challenge_path=challenge_path,
                candidate=candidate,
                mode=mode,
                variant=variant,
                status=Status.created.value,
                created_at=now,
                deadline=deadline,
                grading_attempts=0,
            )
            s.add(row)
            s.flush()
            s.add(
                EventRow(
                    run_id=run_id,
                    at=now,
                    kind="run.created",
                    data={
                        "challenge": challenge_id,
                        "candidate": candidate,
                        "mode": mode,
                        "variant": variant,
                    },
                )
            )
        return self.get(run_id)

    def get(self, run_id: str) -> Run:
        with self.session() as s:
            row = s.get(RunRow, run_id)
            if row is None:
                raise RunNotFound(f"no run {run_id!r} (see `prodproven status`)")
            return Run.from_row(row)

    def list_runs(self, *, status: Status | None = None, results: bool = True) -> list[Run]:
        """Newest first; with ``results=False`` each run's result document is cut down to its
        verdict (``VERDICT_FIELDS``, read inside the database), which keeps long listings
        fast: evidence series stay on disk."""
        verdict = [
            RunRow.result["passed"].as_boolean(),
            RunRow.result["pass_score"].as_float(),
            RunRow.result["requirements"],
        ]
        with self.session() as s:
            query = select(RunRow, *verdict).order_by(RunRow.created_at.desc())
            if not results:
                query = query.options(defer(RunRow.result, raiseload=True))
            if status is not None:
                query = query.where(RunRow.status == status.value)
            found = []
            for row, *values in s.execute(query):
                run = Run.from_row(row, result=results)
                if not results and row.score is not None:
                    kept = dict(zip(VERDICT_FIELDS, values, strict=True))
                    run = replace(run, result={"score": row.score, **kept})
                found.append(run)
            return found

    def transition(
        self, run_id: str, to: Status, *, attempt: int | None = None, **fields: Any
    ) -> Run:
        """Move a run to ``to`` (recording an event) and update ``fields`` in one commit,
        holding the run's row (:meth:`locked`), so concurrent moves apply one after the other.
        With ``attempt``, only while the run's ``grading_attempts`` is still ``attempt``: a
        grader claims a run by moving it to grading with ``grading_attempts=attempt + 1``, and
        records its result with ``attempt`` it claimed, so one grader wins each attempt.

        Raises RunStateError when the move is not allowed from the current status, RunChanged
        when another process changed the attempt first.
        """
        with self.session() as s:
            row = transition_in(s, run_id, to, attempt=attempt, **fields)
            s.flush()
            # read inside the transaction: after the commit another process may move it again
            return Run.from_row(row)

    def claim_grading(self, run_id: str) -> Run:
        """Move a run to grading as its next attempt (``grading_attempts`` + 1), unless another
        process claimed it since it was read. Raises RunStateError, RunChanged."""
        seen = self.get(run_id).grading_attempts
        return self.transition(
            run_id, Status.grading, attempt=seen, grading_attempts=seen + 1, error=None
        )

    @contextmanager
    def locked(self, run_id: str) -> Iterator[tuple[Session, RunRow]]:
        """One transaction holding the run's row: no other writer changes the run until it
        ends (for reading a run and writing what follows from it). Raises RunNotFound."""
        with self.session() as s:
            yield s, _locked_row(s, run_id)

    def update(self, run_id: str, **fields: Any) -> None:
        with self.session() as s:
            row = s.get(RunRow, run_id)
            if row is None:
                raise RunNotFound(f"no run {run_id!r}")
            for key, value in fields.items():
                setattr(row, key, value)

    def add_event(self, run_id: str, kind: str, data: dict[str, Any] | None = None) -> None:
        with self.session() as s:
            s.add(
                EventRow(
                    run_id=run_id,
                    at=utcnow(),
                    kind=kind,
                    data={k: _jsonable(v) for k, v in (data or {}).items()},
                )
            )

    def events(self, run_id: str) -> list[EventRow]:
        with self.session() as s:
            return list(
                s.scalars(select(EventRow).where(EventRow.run_id == run_id).order_by(EventRow.id))
            )

    def add_samples(self, run_id: str, samples: list[dict[str, Any]]) -> int:
        """Store probe samples (dicts of ProbeSampleRow's columns); a ``seq`` already stored
        for the run is skipped, so re-reading the prober after a restart is harmless. Returns
        how many were new."""
        if not samples:
            return 0
        rows = [{**sample, "run_id": run_id} for sample in samples]
        with self.session() as s:
            if self.engine.dialect.name == "sqlite":
                statement = sqlite_insert(ProbeSampleRow.__table__).on_conflict_do_nothing()  # type: ignore[arg-type]
                return int(s.connection().execute(statement, rows).rowcount)
            seen = set(
                s.scalars(
                    select(ProbeSampleRow.seq).where(
                        ProbeSampleRow.run_id == run_id,
                        ProbeSampleRow.seq.in_([r["seq"] for r in rows]),
                    )
                )
            )
            fresh = [ProbeSampleRow(**r) for r in rows if r["seq"] not in seen]
            s.add_all(fresh)
            return len(fresh)

    def samples(self, run_id: str) -> list[ProbeSampleRow]:
        """The run's probe samples in time order."""
        with self.session() as s:
            return list(
                s.scalars(
                    select(ProbeSampleRow)
                    .where(ProbeSampleRow.run_id == run_id)
                    .order_by(ProbeSampleRow.t)
                )
            )

    def add_artifact(self, run_id: str, name: str, path: str, sha256: str, size: int) -> None:
        with self.session() as s:
            s.add(
                ArtifactRow(
                    run_id=run_id,
                    name=name,
                    path=path,
                    sha256=sha256,
                    size=size,
                    created_at=utcnow(),
                )
            )

    def artifacts(self, run_id: str) -> list[ArtifactRow]:
        with self.session() as s:
            return list(s.scalars(select(ArtifactRow).where(ArtifactRow.run_id == run_id)))


def transition_in(
    s: Session, run_id: str, to: Status, *, attempt: int | None = None, **fields: Any
) -> RunRow:
    """``Store.transition`` inside the caller's transaction ``s`` (for a move that must commit
    with other writes); the run's row as moved. Raises RunNotFound, RunStateError, RunChanged."""
    row = _locked_row(s, run_id)
    current = Status(row.status)
    if attempt is not None and row.grading_attempts != attempt:
        raise RunChanged(
            f"run {run_id} is at grading attempt {row.grading_attempts}, not {attempt}: "
            "another process claimed it meanwhile"
        )
    if to not in ALLOWED[current]:
        raise RunStateError(f"run {run_id} is {current.value}; it cannot become {to.value}")
    row.status = to.value
    for key, value in fields.items():
        setattr(row, key, value)
    data = {
        "from": current.value,
        **{k: _jsonable(v) for k, v in fields.items() if k not in ("result",)},
    }
    s.add(EventRow(run_id=run_id, at=utcnow(), kind=f"status.{to.value}", data=data))
    return row


def _locked_row(s: Session, run_id: str) -> RunRow:
    """The run's row, locked until ``s`` ends: an UPDATE that changes nothing, sent before
    anything is read, takes PostgreSQL's row lock and SQLite's write lock (waiting for another
    holder), so what is read next stays true until the commit. Raises RunNotFound."""
    touch = update(RunRow).where(RunRow.id == run_id).values(status=RunRow.status)
    if s.connection().execute(touch).rowcount == 0:
        raise RunNotFound(f"no run {run_id!r}")
    row = s.get(RunRow, run_id, populate_existing=True)
    assert row is not None, run_id
    return row


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    try:
        json.dumps(value)
        return value
    except TypeError:
        return str(value)
