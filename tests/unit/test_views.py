"""Views of a submitted run's services (runner/lifecycle/views.py), with a fake engine: one
view pod per run restored from the verified archive only, shared by concurrent openers,
closed when idle and opened again on the next request, held against other processes, and the
read-only rule of a service kind."""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

import pytest

from prodproven.runner.errors import ContainerError, RunNotFound, RunStateError
from prodproven.runner.grading.pipeline import ArchiveMismatch
from prodproven.runner.lifecycle.ownership import RunBusy, RunLocks
from prodproven.runner.lifecycle.views import VIEW_LOCK, VIEW_PURPOSE, Views, read_only
from prodproven.runner.runs.provisioning import Provisioner
from prodproven.runner.runs.services import ServicePlan
from prodproven.runner.runs.store import Run, Status, Store
from prodproven.sandbox.environment import (
    Backend,
    ContainerSpec,
    Limits,
    PodSize,
    PublishedPort,
)
from prodproven.sandbox.services import MLFLOW, ServiceKind

NOTES = ServiceKind(
    kind="notes",
    description="a service without a data directory",
    recipe=Path("/nowhere"),
    port=7000,
    command=lambda _name: ["notes"],
)


@dataclass
class FakeBox:
    spec: ContainerSpec
    archives: list[tuple[str, bytes]] = field(default_factory=list)
    started: bool = False

    @property
    def role(self) -> str:
        return self.spec.role

    def put_archive(self, path: str, tar_bytes: bytes) -> None:
        self.archives.append((path, tar_bytes))

    def start(self) -> None:
        self.started = True

    def logs(self, tail: int = 200) -> str:
        return ""


@dataclass
class FakePod:
    backend: FakeBackend
    run_id: str
    purpose: str
    hosts: Sequence[str]
    size: PodSize | None
    boxes: list[FakeBox] = field(default_factory=list)
    published: list[PublishedPort] = field(default_factory=list)
    removed: bool = False

    def add(self, spec: ContainerSpec) -> FakeBox:
        if self.backend.fail_add:
            raise ContainerError(f"cannot create the {spec.role} container")
        self.boxes.append(FakeBox(spec))
        return self.boxes[-1]

    def containers(self) -> list[FakeBox]:
        return list(self.boxes)

    def wait_http(self, port: int, path: str, *, timeout: float) -> float:
        return 0.0

    def publish(self, port: int) -> PublishedPort:
        self.published.append(PublishedPort(port, "127.0.0.1", 40000 + len(self.backend.made)))
        return self.published[-1]

    def remove(self) -> None:
        self.removed = True
        self.backend.pods.pop((self.run_id, self.purpose), None)


@dataclass
class FakeBackend:
    pods: dict[tuple[str, str], FakePod] = field(default_factory=dict)
    made: list[FakePod] = field(default_factory=list)
    fail_add: bool = False

    def create_pod(
        self,
        run_id: str,
        purpose: str,
        *,
        hosts: Sequence[str] = (),
        size: PodSize | None = None,
    ) -> FakePod:
        time.sleep(0.01)  # long enough for concurrent openers to meet here
        pod = FakePod(self, run_id, purpose, hosts, size)
        self.pods[(run_id, purpose)] = pod
        self.made.append(pod)
        return pod

    def attach_pod(self, run_id: str, purpose: str) -> FakePod | None:
        return self.pods.get((run_id, purpose))


@dataclass
class FakeProvisioner:
    plans: list[ServicePlan]

    def challenge_of(self, run: Run) -> str:
        return run.challenge_id

    def service_plans(self, challenge: str) -> list[ServicePlan]:
        return self.plans


@dataclass
class Clock:
    now: float = 1000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Fixture:
    views: Views
    backend: FakeBackend
    store: Store
    clock: Clock
    locks: RunLocks
    run: Run


IDLE_S = 600.0
MLFLOW_ARCHIVE = b"the mlflow data directory at submit"


def locks_in(root: Path) -> RunLocks:
    return RunLocks(lambda run_id: root / run_id, VIEW_LOCK)


def submitted(store: Store, root: Path, archive: bytes = MLFLOW_ARCHIVE) -> Run:
    run = store.create_run(
        challenge_id="fix-drift",
        challenge_version="1.0.0",
        challenge_path="/challenges/fix-drift",
        candidate="Grace",
        mode="scripted",
    )
    for status in (Status.provisioning, Status.running, Status.submitted):
        store.transition(run.id, status)
    path = root / run.id / "services" / "mlflow.tar"
    path.parent.mkdir(parents=True)
    path.write_bytes(archive)
    sha = hashlib.sha256(archive).hexdigest()
    store.update(run.id, service_archives={"mlflow": {"path": str(path), "sha256": sha}})
    return store.get(run.id)


@pytest.fixture
def fx(store: Store, tmp_path: Path) -> Fixture:
    backend, clock = FakeBackend(), Clock()
    plans = [ServicePlan("mlflow", MLFLOW, "mlflow-image"), ServicePlan("notes", NOTES, "n")]
    views = Views(
        store,
        cast(Backend, backend),
        cast(Provisioner, FakeProvisioner(plans)),
        locks_in(tmp_path),
        IDLE_S,
        clock=clock,
    )
    return Fixture(views, backend, store, clock, locks_in(tmp_path), submitted(store, tmp_path))


def events(fx: Fixture, kind: str) -> list[dict[str, object]]:
    return [e.data or {} for e in fx.store.events(fx.run.id) if e.kind == kind]


# opening ------------------------------------------------------------------------------------
def test_a_service_is_restored_from_its_archive_alone_in_a_view_pod(fx: Fixture) -> None:
    published = fx.views.open(fx.run.id, "mlflow")
    [pod] = fx.backend.made
    assert (pod.purpose, list(pod.hosts)) == (VIEW_PURPOSE, ["mlflow"])
    [box] = pod.boxes
    assert box.archives == [("/mlflow", MLFLOW_ARCHIVE)] and box.started
    assert (box.spec.user, box.spec.limits, box.spec.image) == (
        MLFLOW.user,
        MLFLOW.limits,
        "mlflow-image",
    )
    assert pod.published == [published] and published.inner_port == MLFLOW.port
    assert events(fx, "view.opened") == [{"service": "mlflow", "url": published.url}]


def test_the_view_pod_is_sized_for_the_services_that_can_be_opened(fx: Fixture) -> None:
    fx.views.open(fx.run.id, "mlflow")
    limits: Limits = MLFLOW.limits
    assert fx.backend.made[0].size == PodSize(limits.memory_bytes, limits.cpus)


def test_an_open_view_is_reused_without_a_second_pod(fx: Fixture) -> None:
    first = fx.views.open(fx.run.id, "mlflow")
    assert fx.views.open(fx.run.id, "mlflow") == first
    assert len(fx.backend.made) == 1 and len(fx.backend.made[0].boxes) == 1


def test_concurrent_openers_of_one_run_share_one_pod(fx: Fixture) -> None:
    got: list[PublishedPort] = []
    threads = [
        threading.Thread(target=lambda: got.append(fx.views.open(fx.run.id, "mlflow")))
        for _ in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(fx.backend.made) == 1 and len(set(got)) == 1 and len(got) == 4


def test_a_leftover_view_pod_of_a_dead_process_is_replaced(fx: Fixture) -> None:
    leftover = fx.backend.create_pod(fx.run.id, VIEW_PURPOSE)
    fx.views.open(fx.run.id, "mlflow")
    assert leftover.removed and fx.backend.pods[(fx.run.id, VIEW_PURPOSE)] is not leftover


# refusals -------------------------------------------------------------------------------------
def test_a_tampered_archive_is_refused_before_any_pod_is_made(fx: Fixture) -> None:
    path = Path(str((fx.run.service_archives or {})["mlflow"]["path"]))
    path.write_bytes(b"something else")
    with pytest.raises(ArchiveMismatch, match="not what was submitted"):
        fx.views.open(fx.run.id, "mlflow")
    assert fx.backend.made == []


def test_a_missing_archive_is_refused(fx: Fixture) -> None:
    Path(str((fx.run.service_archives or {})["mlflow"]["path"])).unlink()
    with pytest.raises(ArchiveMismatch, match="is missing"):
        fx.views.open(fx.run.id, "mlflow")


def test_a_service_without_a_data_directory_or_archive_cannot_be_opened(fx: Fixture) -> None:
    with pytest.raises(RunNotFound, match=r"no service 'notes' to open \(it has: mlflow\)"):
        fx.views.open(fx.run.id, "notes")
    assert fx.views.kind(fx.run.id, "mlflow") is MLFLOW


def test_a_run_without_service_archives_cannot_be_opened(fx: Fixture) -> None:
    fx.store.update(fx.run.id, service_archives=None)
    with pytest.raises(RunStateError, match="once it is submitted"):
        fx.views.open(fx.run.id, "mlflow")


def test_a_view_held_by_another_process_is_refused(fx: Fixture) -> None:
    with fx.locks.hold(fx.run.id, "viewed"), pytest.raises(RunBusy, match="viewed"):
        fx.views.open(fx.run.id, "mlflow")


def test_a_view_that_fails_to_start_is_removed_and_released(fx: Fixture) -> None:
    fx.backend.fail_add = True
    with pytest.raises(ContainerError):
        fx.views.open(fx.run.id, "mlflow")
    assert fx.backend.made[0].removed and fx.locks.free(fx.run.id)
    assert events(fx, "view.closed") == [{"reason": "failed to open", "services": []}]


# closing --------------------------------------------------------------------------------------
def test_an_idle_view_is_closed_and_opened_again_on_the_next_request(fx: Fixture) -> None:
    fx.views.open(fx.run.id, "mlflow")
    fx.clock.now += IDLE_S - 1
    assert fx.views.reap() == []
    fx.clock.now += 1
    assert fx.views.reap() == [fx.run.id]
    assert fx.backend.made[0].removed and fx.locks.free(fx.run.id)
    assert events(fx, "view.closed") == [{"reason": "idle for 600 s", "services": ["mlflow"]}]
    assert not fx.views.touch(fx.run.id)
    fx.views.open(fx.run.id, "mlflow")
    assert len(fx.backend.made) == 2 and not fx.backend.made[1].removed


def test_touching_or_reopening_a_view_starts_its_idle_time_again(fx: Fixture) -> None:
    fx.views.open(fx.run.id, "mlflow")
    fx.clock.now += IDLE_S - 1
    assert fx.views.touch(fx.run.id)
    fx.clock.now += IDLE_S - 1
    fx.views.open(fx.run.id, "mlflow")
    fx.clock.now += IDLE_S - 1
    assert fx.views.reap() == []


def test_close_removes_the_pod_and_releases_the_run(fx: Fixture) -> None:
    fx.views.open(fx.run.id, "mlflow")
    assert not fx.locks.free(fx.run.id)
    assert fx.views.close(fx.run.id) and not fx.views.close(fx.run.id)
    assert fx.backend.made[0].removed and fx.locks.free(fx.run.id)


def test_the_reaper_thread_closes_idle_views_by_itself(store: Store, tmp_path: Path) -> None:
    backend = FakeBackend()
    views = Views(
        store,
        cast(Backend, backend),
        cast(Provisioner, FakeProvisioner([ServicePlan("mlflow", MLFLOW, "m")])),
        locks_in(tmp_path),
        0.05,
        reap_every_s=0.02,
    )
    run = submitted(store, tmp_path)
    views.open(run.id, "mlflow")
    deadline = time.monotonic() + 5
    while not backend.made[0].removed and time.monotonic() < deadline:
        time.sleep(0.02)
    assert backend.made[0].removed


# gc -------------------------------------------------------------------------------------------
def test_gc_may_not_collect_a_run_while_its_view_is_open(fx: Fixture) -> None:
    fx.views.open(fx.run.id, "mlflow")
    with fx.views.shut(fx.run.id) as shut:
        assert not shut


def test_gc_may_not_collect_a_run_whose_view_another_process_holds(fx: Fixture) -> None:
    with fx.locks.hold(fx.run.id, "viewed"), fx.views.shut(fx.run.id) as shut:
        assert not shut


def test_gc_removes_a_view_pod_nobody_holds(fx: Fixture) -> None:
    leftover = fx.backend.create_pod(fx.run.id, VIEW_PURPOSE)
    leftover.add(ContainerSpec(role="svc-mlflow", image="m", limits=MLFLOW.limits))
    with fx.views.shut(fx.run.id) as shut:
        assert shut and not fx.locks.free(fx.run.id)
        assert fx.views.remove_leftover(fx.run.id) == 2
        assert fx.views.remove_leftover(fx.run.id) == 0
    assert leftover.removed and fx.locks.free(fx.run.id)


# read-only ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/ajax-api/2.0/mlflow/registered-models/search"),
        ("head", "/"),
        ("OPTIONS", "/api/2.0/mlflow/runs/create"),
        ("POST", "/ajax-api/2.0/mlflow/experiments/search"),
        ("POST", "/api/2.0/mlflow/runs/search?max_results=10"),
        ("POST", "/ajax-api/2.0/mlflow/logged-models/search"),
        ("POST", "/ajax-api/3.0/mlflow/traces/search"),
        ("POST", "/graphql"),
    ],
)
def test_reads_pass_a_read_only_mlflow(method: str, path: str) -> None:
    assert read_only(MLFLOW)(method, path)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/api/2.0/mlflow/experiments/create"),
        ("POST", "/ajax-api/2.0/mlflow/registered-models/create"),
        ("POST", "/ajax-api/2.0/mlflow/model-versions/transition-stage"),
        ("POST", "/api/2.0/mlflow/experiments/search/../create"),
        ("POST", "/api/2.0/mlflow/experiments/create?/api/2.0/mlflow/experiments/search"),
        ("POST", "/prefix/api/2.0/mlflow/runs/search"),
        ("PATCH", "/api/2.0/mlflow/registered-models/update"),
        ("DELETE", "/api/2.0/mlflow/registered-models/delete"),
        ("PUT", "/ajax-api/2.0/mlflow-artifacts/artifacts/x"),
    ],
)
def test_writes_are_refused_by_a_read_only_mlflow(method: str, path: str) -> None:
    assert not read_only(MLFLOW)(method, path)


def test_a_kind_without_read_only_posts_lets_no_post_through() -> None:
    assert not read_only(NOTES)("POST", "/search")
    assert read_only(NOTES)("GET", "/anything")
