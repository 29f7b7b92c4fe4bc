"""The warm pool: per challenge, pods made ahead of any start (``start.POD_STEPS``: the images,
the pod, its services booted empty, the workspace container with an empty ``/workspace`` and
JupyterLab), so a candidate does not wait for them after "Start".

A pooled pod is made for a run id picked in advance (pods are labelled by run id) and holds
nothing of any candidate or variant: the variant's material and the candidate's run enter only
when a start claims it (``start.CLAIM_STEPS``). Each pooled pod has a row in ``pool_pods``:

- ``filling`` while a process makes it, holding the run id's owner lock (``RunLocks``), so a
  row whose lock is free was left by a filler that stopped;
- ``ready`` once made; a start takes the oldest ready pod of its challenge's version in one
  guarded update (``ready`` -> ``claimed``), so two starts never take the same pod;
- ``claimed`` until the run is admitted under that id; then the row is deleted and the pod
  is the run's.

A pooled pod holds room like a run (its ``memory_bytes`` and ``cpus``, the challenge's
reservation): a pod is made only when the ``room`` callable grants it, inside the transaction
that records it (``admission.Admission.room_for_pod``: never while runs queue, never past the
capacity), and a queued run first in line removes ready pods to make room (:meth:`Pool.yield_one`).

``sweep`` removes what is stale: a pod of another challenge version or image, a pod whose
containers died, a filling pod whose filler stopped, a claim whose run was never created.
``Runner.gc`` leaves pooled pods alone (they belong to no run yet) and sweeps the pool.
After each interactive start, the pool is refilled by a detached ``prodproven pool fill CH``
process (:func:`spawn_fill`): the starting process may be a short-lived CLI command.
"""

from __future__ import annotations

import fcntl
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import JSON, BigInteger, Float, String, Text, delete, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from prodproven.runner.config import Settings
from prodproven.runner.errors import ProdprovenError, RunNotFound
from prodproven.runner.lifecycle.detached import start_detached
from prodproven.runner.lifecycle.ownership import RunLocks
from prodproven.runner.lifecycle.start import POD_STEPS, PodJob, Reporter, StartJob
from prodproven.runner.runs.provisioning import Provisioner
from prodproven.runner.runs.services import SETUP_ROLE
from prodproven.runner.runs.store import Base, Store, new_run_id, utcnow
from prodproven.runner.spec.challenge import Challenge
from prodproven.sandbox.environment import Backend, Pod, Sandbox

FILLING, READY, CLAIMED = "filling", "ready", "claimed"
CLAIM_GRACE = timedelta(minutes=2)
"""How long a claimed pod may wait for its run to be created before a sweep removes it."""
POD_PURPOSE = "workspace"

Room = Callable[[Session, Challenge], tuple[int, float] | None]
"""Asked inside the transaction that records a new pooled pod: the memory (bytes) and CPUs the
pod may hold, or None when there is no room for it now."""


def any_room(_s: Session, _challenge: Challenge) -> tuple[int, float] | None:
    """Every pod fits (a runner without admission)."""
    return (0, 0.0)


def pool_folder(data_dir: Path) -> Path:
    """Where the pool keeps its fill locks and its fillers' log."""
    return data_dir / "pool"


class PoolRow(Base):
    __tablename__ = "pool_pods"
    run_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    challenge_id: Mapped[str] = mapped_column(String(64), index=True)
    challenge_version: Mapped[str] = mapped_column(String(32))
    image: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(16), index=True)
    since: Mapped[datetime] = mapped_column()
    notes: Mapped[list[Any]] = mapped_column(JSON)
    memory_bytes: Mapped[int] = mapped_column(BigInteger)
    cpus: Mapped[float] = mapped_column(Float)


@dataclass(frozen=True)
class PooledPod:
    """One row of the pool, as the rest of the runner sees it."""

    run_id: str
    challenge_id: str
    challenge_version: str
    image: str
    state: str
    since: datetime
    notes: list[Any]

    @classmethod
    def from_row(cls, row: PoolRow) -> PooledPod:
        return cls(**{name: getattr(row, name) for name in cls.__dataclass_fields__})

    def as_data(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "challenge": self.challenge_id,
            "version": self.challenge_version,
            "state": self.state,
            "since": self.since.isoformat(),
        }


@dataclass(frozen=True)
class Claimed:
    """A pooled pod taken by a start: its run id is the new run's."""

    pooled: PooledPod
    pod: Pod
    workspace: Sandbox

    @property
    def run_id(self) -> str:
        return self.pooled.run_id

    def adopt(self, job: StartJob) -> None:
        """Give ``job`` the pod and record what its pod steps did, as the run's events."""
        job.pod, job.workspace = self.pod, self.workspace
        job.setup = self.pod.member(SETUP_ROLE)
        job.event("pool.claimed", {"pooled_since": self.pooled.since.isoformat()})
        for kind, data in self.pooled.notes:
            job.event(kind, {**data, "pooled": True})


class Pool:
    """The warm pods of one data directory. ``find`` gives the current challenge of an id
    (raising ProdprovenError when it is gone), ``locks`` the runs' owner locks, ``steps``
    what makes a pod (``start.POD_STEPS``)."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        backend: Backend,
        provisioner: Provisioner,
        locks: RunLocks,
        find: Callable[[str], Challenge],
        report: Reporter = lambda _: None,
        steps: Sequence[Callable[[PodJob], None]] = tuple(POD_STEPS),
        room: Room = any_room,
    ) -> None:
        self.settings = settings
        self.store = store
        self.backend = backend
        self.provisioner = provisioner
        self.locks = locks
        self.find = find
        self.report = report
        self.steps = steps
        self.room = room

    # reading -------------------------------------------------------------------------------
    def pods(self, challenge_id: str | None = None) -> list[PooledPod]:
        """The pool's pods (of one challenge), oldest first."""
        with self.store.session() as s:
            query = select(PoolRow).order_by(PoolRow.since)
            if challenge_id is not None:
                query = query.where(PoolRow.challenge_id == challenge_id)
            return [PooledPod.from_row(row) for row in s.scalars(query)]

    def pooled_ids(self) -> set[str]:
        """Run ids whose pods belong to the pool (no run's leftovers)."""
        return {pod.run_id for pod in self.pods()}

    # filling -------------------------------------------------------------------------------
    def fill(self, challenge: Challenge) -> list[str]:
        """Make pods until ``challenge`` has as many (ready or filling) as its pool size, after
        removing its stale ones; returns the run ids of the pods made. Fillers of one
        challenge take turns (a file lock), so two never overfill it."""
        with self._filling(challenge.id):
            image = self.provisioner.challenge_image(challenge)
            self.sweep()
            for pod in self.pods(challenge.id):
                if pod.state == READY and pod.image != image:
                    self._discard(pod.run_id, "its image was rebuilt")
            made: list[str] = []
            while self._kept(challenge.id) < self.settings.warm_pool_size(challenge.id):
                run_id = self._make(challenge)
                if run_id is None:
                    break
                made.append(run_id)
            return made

    def _kept(self, challenge_id: str) -> int:
        return sum(pod.state in (FILLING, READY) for pod in self.pods(challenge_id))

    def _make(self, challenge: Challenge) -> str | None:
        """Make one pod; None when there is no room for it (runs queue, or it does not fit)."""
        run_id = new_run_id()
        with self.store.session() as s:
            held = self.room(s, challenge)
            if held is None:
                self.report(f"no room for a warm pod of {challenge.id} now")
                return None
            s.add(
                PoolRow(
                    run_id=run_id,
                    challenge_id=challenge.id,
                    challenge_version=challenge.spec.version,
                    image="",
                    state=FILLING,
                    since=utcnow(),
                    notes=[],
                    memory_bytes=held[0],
                    cpus=held[1],
                )
            )
        self.report(f"making warm pod {run_id} for {challenge.id}")
        try:
            with self.locks.hold(run_id, "pooled"):
                job = PodJob(
                    run_id=run_id,
                    challenge=challenge,
                    backend=self.backend,
                    provisioner=self.provisioner,
                    data_dir=self.settings.data_dir,
                    report=self.report,
                )
                for step in self.steps:
                    step(job)
                with self.store.session() as s:
                    s.execute(
                        update(PoolRow)
                        .where(PoolRow.run_id == run_id)
                        .values(state=READY, image=job.image, since=utcnow(), notes=job.notes)
                    )
        except BaseException:
            self._discard(run_id, "making it failed")
            raise
        return run_id

    @contextmanager
    def _filling(self, challenge_id: str) -> Iterator[None]:
        folder = pool_folder(self.settings.data_dir)
        folder.mkdir(parents=True, exist_ok=True)
        with (folder / f"{challenge_id}.lock").open("a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            yield

    # claiming ------------------------------------------------------------------------------
    def claim(self, challenge: Challenge) -> Claimed | None:
        """Take the oldest ready pod of ``challenge`` (its version and image), or None when
        there is none. A pod found dead or stale on the way is removed."""
        image = ""
        while True:
            with self.store.session() as s:
                run_id = s.scalars(
                    select(PoolRow.run_id)
                    .where(
                        PoolRow.challenge_id == challenge.id,
                        PoolRow.challenge_version == challenge.spec.version,
                        PoolRow.state == READY,
                    )
                    .order_by(PoolRow.since)
                    .limit(1)
                ).first()
            if run_id is None:
                return None
            pooled = self._take(run_id)
            if pooled is None:
                continue  # another start took it first
            image = image or self.provisioner.challenge_image(challenge)
            found = self._alive(pooled) if pooled.image == image else None
            if found is None or (challenge.spec.setup and not found[0].member(SETUP_ROLE)):
                self._discard(run_id, "stale or dead when claimed")
                continue
            pod, workspace = found
            return Claimed(pooled, pod, workspace)

    def _take(self, run_id: str) -> PooledPod | None:
        """``ready`` -> ``claimed`` in one guarded update; None when it was not ready."""
        with self.store.session() as s:
            taken = s.execute(
                update(PoolRow)
                .where(PoolRow.run_id == run_id, PoolRow.state == READY)
                .values(state=CLAIMED, since=utcnow())
            )
            if getattr(taken, "rowcount", 0) != 1:
                return None
            row = s.get(PoolRow, run_id)
            assert row is not None
            return PooledPod.from_row(row)

    def release(self, run_id: str) -> None:
        """The pod of ``run_id`` leaves the pool (and its room with it)."""
        with self.store.session() as s:
            s.execute(delete(PoolRow).where(PoolRow.run_id == run_id))

    def _alive(self, pooled: PooledPod) -> tuple[Pod, Sandbox] | None:
        pod = self.backend.attach_pod(pooled.run_id, POD_PURPOSE)
        if pod is None:
            return None
        boxes = pod.containers()
        workspace = pod.member("workspace")
        if workspace is None or any(box.state() != "running" for box in boxes):
            return None
        return pod, workspace

    # removing ------------------------------------------------------------------------------
    def sweep(self) -> dict[str, int]:
        """Remove stale pods (see the module's text); returns how many objects each pod's run
        id had."""
        removed: dict[str, int] = {}
        for pooled in self.pods():
            why = self._stale(pooled)
            if why is not None:
                removed[pooled.run_id] = self._discard(pooled.run_id, why)
        return removed

    def _stale(self, pooled: PooledPod) -> str | None:
        if pooled.state == CLAIMED:
            try:
                self.store.get(pooled.run_id)
            except RunNotFound:
                late = utcnow() - pooled.since > CLAIM_GRACE
                return "claimed, its run never created" if late else None
            self.release(pooled.run_id)  # the run has it; the start stopped before releasing
            return None
        if pooled.state == FILLING:
            return "its filler stopped" if self.locks.free(pooled.run_id) else None
        try:
            version = self.find(pooled.challenge_id).spec.version
        except ProdprovenError:
            return "its challenge is gone"
        if version != pooled.challenge_version:
            return f"its challenge is at version {version} now"
        return None if self._alive(pooled) else "its containers are gone or stopped"

    def yield_one(self) -> bool:
        """Remove the oldest ready pod of any challenge, to make room for a queued run;
        False when there was none."""
        ready = [pod for pod in self.pods() if pod.state == READY]
        if not ready or self._take(ready[0].run_id) is None:
            return False
        self._discard(ready[0].run_id, "a queued run needs its room")
        return True

    def drain(self, challenge_id: str | None = None) -> list[str]:
        """Remove every ready pod (of one challenge); returns their run ids."""
        drained = [p.run_id for p in self.pods(challenge_id) if p.state == READY]
        for run_id in drained:
            self._discard(run_id, "drained")
        return drained

    def _discard(self, run_id: str, why: str) -> int:
        self.report(f"removing warm pod {run_id}: {why}")
        removed = self.backend.remove_run(run_id)
        self.release(run_id)
        return removed


def spawn_fill(settings: Settings, challenge: Challenge) -> int | None:
    """Start ``prodproven pool fill CH`` as a detached process when ``challenge`` keeps a warm
    pool; returns its pid (None: no pool). Its output goes to ``<data>/pool/fill.log``."""
    if settings.warm_pool_size(challenge.id) == 0:
        return None
    log = pool_folder(settings.data_dir) / "fill.log"
    return start_detached(settings, ["pool", "fill", str(challenge.root)], log)
