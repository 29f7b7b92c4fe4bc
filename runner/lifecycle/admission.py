"""Admission: a run holds part of the machine's capacity while it has a pod (statuses
``provisioning``, ``running``, ``submitted``); a start that does not fit waits in ``queued``,
and queued runs leave the queue in the order they were created.

What a run holds is its challenge's *reservation* (``need.need_of``): the ``reservation`` its
spec declares (idle use measured, like a Kubernetes request), or else the sum of the limits of
the containers its pod keeps (workspace, services, live service, prober); its pod reserves the
same where a backend places pods on a cluster. An admitted run whose pod the cluster leaves
pending goes back to ``queued`` until it is placed (``start.create_pod``): it keeps its
reservation and is no part of this queue (it has no place in it, and holds none up).

The capacity is the settings' ``capacity_memory`` (default: the engine's memory minus
``RUNNER_RESERVE_BYTES``) and ``capacity_cpus`` (default: CPUs do not limit admission; idle
runs use next to none and a CPU limit is a ceiling, not a reservation).

Each decision is one transaction that first updates the one row of ``admission_turns``: on
SQLite that takes the database's write lock, on PostgreSQL the row's lock, so two processes
never both take the last room, and a run's reservation and its move to ``provisioning`` are
committed together. A queued run is waited for by the process that started it, which owns
the run (``ownership.RunLocks``); a queued run nobody owns was left by a process that stopped,
and the next decision errors it instead of letting it block the queue.

Warm pods (``pool.py``) hold room too, as much as a run of their challenge: a pod is made
only when nobody queues and it fits (:meth:`Admission.room_for_pod`); a start that takes one
is admitted at once, the pod's room becoming the run's in one decision
(:meth:`Admission.admit_pooled`); and a queued run first in line has ready pods removed until
it fits (the ``make_room`` of :meth:`Admission.wait`).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

from sqlalchemy import BigInteger, Float, ForeignKey, Integer, delete, exists, func, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from prodproven.runner.config import Settings
from prodproven.runner.errors import ConfigError, ProdprovenError, RunNotFound, RunStateError
from prodproven.runner.lifecycle.need import GIB, NOTHING, Need
from prodproven.runner.lifecycle.pool import PoolRow
from prodproven.runner.runs.store import (
    Base,
    EventRow,
    Run,
    RunRow,
    Status,
    Store,
    transition_in,
    utcnow,
)
from prodproven.runner.spec.parts import parse_size
from prodproven.sandbox.environment import Backend

HOLDING = (Status.queued, Status.provisioning, Status.running, Status.submitted)
"""Statuses of a run that holds its reservation: it has a pod, or (``queued`` after it was
admitted) waits for the cluster to place one."""
RUNNER_RESERVE_BYTES = 2 * 2**30
"""Memory the default capacity leaves to the runner, the web app and grading."""
POLL_S = 1.0
"""How often a queued run asks again."""
QUEUE_LOST = (
    "the process waiting for room for this run stopped while it was queued; start a new run"
)


class OverCapacity(ProdprovenError):
    """A run needs more than the whole capacity: it would wait in the queue forever (an
    operator's matter: a candidate sees a reference, the run's page the reason)."""


class ReservationRow(Base):
    """What an admitted run holds while its status is one of ``HOLDING``."""

    __tablename__ = "reservations"
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id"), primary_key=True)
    memory_bytes: Mapped[int] = mapped_column(BigInteger)
    cpus: Mapped[float] = mapped_column(Float)


class AdmissionTurnRow(Base):
    """One row (made by the migration), updated first by every admission decision: the lock
    they all take."""

    __tablename__ = "admission_turns"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    turns: Mapped[int] = mapped_column(BigInteger)


@dataclass(frozen=True)
class Capacity:
    """What all runs holding a pod may reserve together; None: not limited (by us)."""

    memory_bytes: int | None
    cpus: float | None

    def fits(self, need: Need, held: Need = NOTHING) -> bool:
        memory_ok = (
            self.memory_bytes is None or held.memory_bytes + need.memory_bytes <= self.memory_bytes
        )
        return memory_ok and (self.cpus is None or held.cpus + need.cpus <= self.cpus + 1e-9)

    def __str__(self) -> str:
        cpus = "any number of CPUs" if self.cpus is None else f"{self.cpus:g} CPUs"
        if self.memory_bytes is None:
            return f"any amount of memory and {cpus}"
        return f"{self.memory_bytes / GIB:.2f} GiB of memory and {cpus}"


def capacity_of(settings: Settings, backend: Backend) -> Capacity:
    """The capacity the settings declare, the engine's memory filling in the default. On a
    backend that places pods on a cluster (``swarm``) the cluster's scheduler decides where a
    pod fits and a run waits in its queue (``queued`` with its reason): memory is then limited
    here only when the setting says so. Raises ConfigError for a memory setting that is not a
    size."""
    memory: int | None
    if settings.capacity_memory:
        try:
            memory = parse_size(settings.capacity_memory)
        except ValueError:
            raise ConfigError(
                "PRODPROVEN_CAPACITY_MEMORY", settings.capacity_memory, "a size like 20g"
            ) from None
    elif settings.backend == "swarm":
        memory = None
    else:
        memory = max(0, _engine_memory(backend) - RUNNER_RESERVE_BYTES)
    return Capacity(memory, settings.capacity_cpus or None)


def _engine_memory(backend: Backend) -> int:
    """The engine's memory (the host's, for a backend without a Docker client)."""
    client = getattr(backend, "client", None)
    if client is not None:
        return int(client.info().get("MemTotal", 0))
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


@dataclass(frozen=True)
class Place:
    """A queued run's place: ``position`` of ``of`` queued runs (1 leaves first)."""

    position: int
    of: int

    def line(self) -> str:
        return f"queued: position {self.position} of {self.of}"


def cluster_reason(run: Run) -> str | None:
    """Why ``run`` waits for room in the cluster (admitted, its pod pending there: it has no
    place in this machine's queue, and the cluster says no position), or None when it does
    not: the reason the cluster gave is the queued run's ``error`` (``start.StartJob``)."""
    return run.error if run.status is Status.queued else None


def places(store: Store) -> dict[str, Place]:
    """The place of every queued run, by run id."""
    with store.session() as s:
        queue = _queue(s)
    return {run_id: Place(i + 1, len(queue)) for i, run_id in enumerate(queue)}


class Admission:
    """Admits runs to ``store``'s capacity. ``capacity`` is asked once, at the first
    decision (it may ask the engine); ``alive`` tells whether the process that started a run
    still waits for it."""

    def __init__(
        self, store: Store, capacity: Callable[[], Capacity], alive: Callable[[str], bool]
    ) -> None:
        self.store = store
        self.capacity = cache(capacity)
        self._alive = alive

    def ask(self, run_id: str, need: Need) -> Place | None:
        """Admit ``run_id`` (``created`` or ``queued``) when it is first in the queue, or
        nobody queues, and ``need`` fits beside what the runs holding a pod hold: its
        reservation is recorded and ``provisioning`` committed, and None returned. Otherwise
        the run is (or stays) ``queued`` and its place is returned. Raises OverCapacity when
        ``need`` exceeds the whole capacity, RunStateError when the run is neither created
        nor queued (cancelled while it waited)."""
        capacity = self.capacity()
        with self.store.session() as s:
            _take_turn(s)
            run = self._waiting(s, run_id)
            if not capacity.fits(need):
                raise OverCapacity(
                    f"run {run_id} of {run.challenge_id} needs {need} while it has a pod, "
                    f"more than the whole capacity of {capacity}: raise "
                    "PRODPROVEN_CAPACITY_MEMORY (or _CPUS) or declare the challenge's "
                    "`reservation` (docs/operations.md#capacity)"
                )
            queue = self._served(s, run_id)
            ahead = queue.index(run_id) if run_id in queue else len(queue)
            if ahead == 0 and capacity.fits(need, _held(s)):
                _admit(s, run_id, need)
                return None
            if run.status is Status.created:
                _event(s, run_id, "admission.queued", need)
                transition_in(s, run_id, Status.queued)
                queue.append(run_id)
            return Place(ahead + 1, len(queue))

    def admit_pooled(self, run_id: str, need: Need) -> None:
        """Admit ``run_id``, ``created`` on a warm pod of the same id: the pod's room becomes
        the run's reservation in one decision (it fitted when the pod was made). Raises
        RunStateError when the run is not ``created``."""
        with self.store.session() as s:
            _take_turn(s)
            self._waiting(s, run_id)
            s.execute(delete(PoolRow).where(PoolRow.run_id == run_id))
            _admit(s, run_id, need, pooled=True)

    def room_for_pod(self, s: Session, need: Need) -> tuple[int, float] | None:
        """Within ``s`` (the transaction recording a new warm pod): ``need`` as the pod's
        room when nobody queues and it fits, else None."""
        _take_turn(s)
        if _queue(s) or not self.capacity().fits(need, _held(s)):
            return None
        return (need.memory_bytes, need.cpus)

    def wait(
        self,
        run_id: str,
        need: Need,
        report: Callable[[str], None],
        poll_s: float = POLL_S,
        sleep: Callable[[float], None] = time.sleep,
        make_room: Callable[[], bool] = lambda: False,
    ) -> None:
        """Ask every ``poll_s`` until ``run_id`` is admitted, reporting its place each time
        it changes; first in line, ask ``make_room`` (remove a warm pod) and ask again at once
        when it did. Raises what :meth:`ask` raises."""
        shown: Place | None = None
        while (place := self.ask(run_id, need)) is not None:
            if place != shown:
                report(place.line())
                shown = place
            if place.position == 1 and make_room():
                continue
            sleep(poll_s)

    def withdraw(self, run_id: str, reason: str) -> Run | None:
        """Cancel ``run_id`` with ``reason`` if it is queued, within a decision (so it is
        never admitted meanwhile); None when it is not queued."""
        with self.store.session() as s:
            _take_turn(s)
            row = s.get(RunRow, run_id)
            if row is None or row.status != Status.queued.value:
                return None
            transition_in(s, run_id, Status.cancelled, error=reason)
        return self.store.get(run_id)

    def _waiting(self, s: Session, run_id: str) -> Run:
        row = s.get(RunRow, run_id)
        if row is None:
            raise RunNotFound(f"no run {run_id!r}")
        run = Run.from_row(row, result=False)
        if run.status is Status.cancelled:
            raise RunStateError(f"run {run_id} was cancelled while it was queued: {run.error}")
        if run.status not in (Status.created, Status.queued):
            raise RunStateError(f"run {run_id} is {run.status.value}; it cannot be admitted")
        return run

    def _served(self, s: Session, run_id: str) -> list[str]:
        """The queue, after erroring the runs ahead of ``run_id`` nobody waits for."""
        queue = _queue(s)
        while queue and queue[0] != run_id and not self._alive(queue[0]):
            transition_in(s, queue.pop(0), Status.errored, error=QUEUE_LOST)
        return queue


def _take_turn(s: Session) -> None:
    """Begin a decision: the lock every decision takes first."""
    s.execute(update(AdmissionTurnRow).values(turns=AdmissionTurnRow.turns + 1))


def _admit(s: Session, run_id: str, need: Need, pooled: bool = False) -> None:
    s.add(ReservationRow(run_id=run_id, memory_bytes=need.memory_bytes, cpus=need.cpus))
    _event(s, run_id, "admission.admitted", need, pooled=pooled)
    transition_in(s, run_id, Status.provisioning)


def _event(s: Session, run_id: str, kind: str, need: Need, **more: bool) -> None:
    data = {"memory_bytes": need.memory_bytes, "cpus": need.cpus, **more}
    s.add(EventRow(run_id=run_id, at=utcnow(), kind=kind, data=data))


def _queue(s: Session) -> list[str]:
    """The ids of the runs queued for this admission, first to leave first: not a run queued
    after it was admitted (it holds a reservation), which waits for the cluster instead."""
    admitted = exists().where(ReservationRow.run_id == RunRow.id)
    query = select(RunRow.id).where(RunRow.status == Status.queued.value, ~admitted)
    return list(s.scalars(query.order_by(RunRow.created_at, RunRow.id)))


def _held(s: Session) -> Need:
    """What the runs holding a pod and the warm pods hold together."""
    runs = (
        select(func.sum(ReservationRow.memory_bytes), func.sum(ReservationRow.cpus))
        .join(RunRow, RunRow.id == ReservationRow.run_id)
        .where(RunRow.status.in_([status.value for status in HOLDING]))
    )
    pods = select(func.sum(PoolRow.memory_bytes), func.sum(PoolRow.cpus))
    memory, cpus = s.execute(runs).one()
    pod_memory, pod_cpus = s.execute(pods).one()
    return Need(int(memory or 0) + int(pod_memory or 0), float(cpus or 0.0) + float(pod_cpus or 0))
