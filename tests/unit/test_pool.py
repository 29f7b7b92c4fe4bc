"""The warm pool, decided without containers: pods are made up to the pool size, a start takes
the oldest ready one and never one another start took, stale or dead pods are removed instead
of claimed, and gc never reaps a pooled pod as a leftover. The real thing is
tests/integration/test_pool.py."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import timedelta
from pathlib import Path
from typing import cast

import pytest
from sqlalchemy import update

from prodproven.runner.config import Settings
from prodproven.runner.errors import ChallengeNotFound
from prodproven.runner.lifecycle.core import Runner
from prodproven.runner.lifecycle.ownership import RunLocks
from prodproven.runner.lifecycle.pool import CLAIM_GRACE, CLAIMED, FILLING, READY, Pool, PoolRow
from prodproven.runner.lifecycle.start import PodJob, build_images, create_pod, start_workspace
from prodproven.runner.runs.provisioning import Provisioner
from prodproven.runner.runs.store import Store, utcnow
from prodproven.runner.spec.challenge import Catalog, Challenge, load_challenge
from prodproven.sandbox.environment import Backend, ContainerSpec, Pod, PodSize
from prodproven.sandbox.images import ImageBuilder
from tests.conftest import BUILTIN


@dataclass
class FakeBox:
    role: str
    running: bool = False

    def start(self) -> None:
        self.running = True

    def state(self) -> str:
        return "running" if self.running else "exited"


@dataclass
class FakePod:
    run_id: str
    purpose: str
    boxes: list[FakeBox] = field(default_factory=list)

    def add(self, spec: ContainerSpec) -> FakeBox:
        self.boxes.append(FakeBox(spec.role))
        return self.boxes[-1]

    def containers(self) -> list[FakeBox]:
        return self.boxes

    def member(self, role: str) -> FakeBox | None:
        return next((box for box in self.boxes if box.role == role), None)


@dataclass
class FakeBackend:
    pods: dict[str, FakePod] = field(default_factory=dict)
    removed: list[str] = field(default_factory=list)

    def create_pod(
        self,
        run_id: str,
        purpose: str,
        *,
        hosts: Sequence[str] = (),
        size: PodSize | None = None,
        on_wait: Callable[[str], None] | None = None,
    ) -> FakePod:
        self.pods[run_id] = FakePod(run_id, purpose)
        return self.pods[run_id]

    def attach_pod(self, run_id: str, purpose: str) -> Pod | None:
        return cast(Pod | None, self.pods.get(run_id))

    def run_ids_with_leftovers(self) -> set[str]:
        return set(self.pods)

    def remove_run(self, run_id: str, *, keep_volumes: bool = False) -> int:
        self.removed.append(run_id)
        return 1 if self.pods.pop(run_id, None) else 0


@dataclass
class FakeProvisioner:
    image: str = "prodproven/challenge-deploy-model:aaa"

    def challenge_image(self, challenge: Challenge) -> str:
        return self.image

    def service_plans(self, challenge: Challenge) -> list[object]:
        return []

    def client_env(self, challenge: Challenge) -> dict[str, str]:
        return {}


def note_lab(job: PodJob) -> None:
    job.event("lab.started", {"ready_s": 1.0, "kernel": "workspace"})


@dataclass
class Fixture:
    pool: Pool
    backend: FakeBackend
    provisioner: FakeProvisioner
    challenge: Challenge
    versions: dict[str, str]

    def another_process(self) -> Pool:
        """The same pool seen by a second process (its own locks)."""
        return pool_of(self.pool.settings, self.pool.store, self)

    def find(self, challenge_id: str) -> Challenge:
        """The challenge as it is now: gone, or at the version ``versions`` says."""
        if challenge_id not in self.versions:
            raise ChallengeNotFound(f"no challenge {challenge_id}")
        spec = self.challenge.spec.model_copy(update={"version": self.versions[challenge_id]})
        return replace(self.challenge, spec=spec)


def pool_of(settings: Settings, store: Store, fixture: Fixture) -> Pool:
    return Pool(
        settings,
        store,
        cast(Backend, fixture.backend),
        cast(Provisioner, fixture.provisioner),
        RunLocks(lambda run_id: settings.data_dir / "runs" / run_id),
        fixture.find,
        steps=(build_images, create_pod, start_workspace, note_lab),
    )


@pytest.fixture
def fx(tmp_path: Path, store: Store, catalog: Catalog) -> Fixture:
    settings = Settings.from_env({}, data_dir=tmp_path, warm_pool="deploy-model=2")
    challenge = load_challenge(BUILTIN / "deploy-model", catalog)
    versions = {"deploy-model": challenge.spec.version}
    fixture = Fixture(cast(Pool, None), FakeBackend(), FakeProvisioner(), challenge, versions)
    fixture.pool = pool_of(settings, store, fixture)
    return fixture


def states(pool: Pool) -> list[str]:
    return [pod.state for pod in pool.pods()]


def test_filling_makes_ready_pods_up_to_the_pool_size_and_no_more(fx: Fixture) -> None:
    made = fx.pool.fill(fx.challenge)
    assert len(made) == 2 and states(fx.pool) == [READY, READY]
    assert fx.pool.fill(fx.challenge) == []
    pod = fx.backend.pods[made[0]]
    assert [box.role for box in pod.boxes] == ["workspace"] and pod.boxes[0].running


def test_a_start_takes_the_oldest_ready_pod_and_its_notes(fx: Fixture) -> None:
    first, second = fx.pool.fill(fx.challenge)
    claimed = fx.pool.claim(fx.challenge)
    assert claimed is not None and claimed.run_id == first
    assert claimed.pooled.notes == [["lab.started", {"ready_s": 1.0, "kernel": "workspace"}]]
    assert {pod.run_id: pod.state for pod in fx.pool.pods()} == {first: CLAIMED, second: READY}


def test_two_starts_never_take_the_same_pod(fx: Fixture) -> None:
    fx.pool.settings = fx.pool.settings.model_copy(update={"warm_pool": "deploy-model=1"})
    fx.pool.fill(fx.challenge)
    taken = [fx.pool.claim(fx.challenge), fx.another_process().claim(fx.challenge)]
    assert taken[0] is not None and taken[1] is None


def test_released_pods_leave_the_pool_and_a_fill_replaces_them(fx: Fixture) -> None:
    fx.pool.fill(fx.challenge)
    claimed = fx.pool.claim(fx.challenge)
    assert claimed is not None
    fx.pool.release(claimed.run_id)
    assert claimed.run_id not in fx.pool.pooled_ids()
    assert len(fx.pool.fill(fx.challenge)) == 1
    assert claimed.run_id in fx.backend.pods  # the run's pod now: never removed by the pool


def test_a_pod_of_an_older_image_or_with_a_dead_container_is_removed_not_claimed(
    fx: Fixture,
) -> None:
    old, dead = fx.pool.fill(fx.challenge)
    fx.backend.pods[dead].boxes[0].running = False
    fx.provisioner.image = "prodproven/challenge-deploy-model:bbb"
    assert fx.pool.claim(fx.challenge) is None
    assert fx.backend.removed == [old, dead] and fx.pool.pods() == []


def test_a_new_challenge_version_makes_the_sweep_remove_the_old_pods(fx: Fixture) -> None:
    made = fx.pool.fill(fx.challenge)
    fx.versions["deploy-model"] = "9.0.0"
    assert sorted(fx.pool.sweep()) == sorted(made)
    assert fx.pool.pods() == []


def test_the_sweep_removes_a_pod_whose_filler_stopped_but_not_one_being_filled(
    fx: Fixture,
) -> None:
    fx.pool.fill(fx.challenge)
    being_filled, abandoned = (pod.run_id for pod in fx.pool.pods())
    with fx.pool.store.session() as s:
        s.execute(update(PoolRow).values(state=FILLING))
    with fx.another_process().locks.hold(being_filled, "pooled"):
        assert list(fx.pool.sweep()) == [abandoned]
    assert [pod.run_id for pod in fx.pool.pods()] == [being_filled]


def test_a_claim_whose_run_never_came_is_removed_after_the_grace(fx: Fixture) -> None:
    fx.pool.fill(fx.challenge)
    claimed = fx.pool.claim(fx.challenge)
    assert claimed is not None
    assert fx.pool.sweep() == {}
    with fx.pool.store.session() as s:
        s.execute(update(PoolRow).values(since=utcnow() - CLAIM_GRACE - timedelta(seconds=1)))
    assert claimed.run_id in fx.pool.sweep()


def test_gc_never_reaps_a_pooled_pod_as_a_leftover(
    fx: Fixture, store: Store, catalog: Catalog
) -> None:
    runner = Runner(
        fx.pool.settings, store, cast(Backend, fx.backend), cast(ImageBuilder, None), catalog, {}
    )
    made = fx.pool.fill(fx.challenge)
    fx.backend.create_pod("prep-0123456789", "prepare")
    assert runner.gc() == {"prep-0123456789": 1}
    assert set(made) <= set(fx.backend.pods)
