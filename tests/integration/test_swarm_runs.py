"""Real challenges on the local Swarm cluster through the CLI, as an installation with
``PRODPROVEN_BACKEND=swarm`` runs them: a scripted deploy-model run is graded (its answers
right) with every pod of it on cluster nodes (none on the runner's engine), its images carried
through the registry; three challenges started at once are spread by Swarm over the nodes; a
full cluster keeps a fourth start ``queued`` with Swarm's reason until a run ends; a run whose
node is killed is marked ``errored`` by its supervisor.

Shares the session's cluster with tests/integration/test_cluster.py (brought up when none runs).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, cast

import docker
import docker.errors
import docker.types
import pytest

from prodproven.sandbox.docker_backend import PURPOSE_LABEL
from prodproven.sandbox.environment import RUN_LABEL
from tests.integration.swarm_cluster import CLUSTER_SH, NODES, REPO, Cluster

pytestmark = pytest.mark.cluster

DEPLOY_MODEL = REPO / "challenges" / "deploy-model"
SOLUTION = DEPLOY_MODEL / "solution"
AT_ONCE = ("deploy-model", "review-ai-change", "capacity-plan")
"""Three different challenges: each start makes its material (a prepare pod of 2 CPUs, a whole
node here) before its workspace pod, so starts that must prepare wait for one another's room
instead of holding it."""
RESERVATION = "reservation:\n  memory: 768m\n  cpus: 0.5\n"
FILLING = "reservation:\n  memory: 1g\n  cpus: 1.5\n"
"""Most of a node's 2 CPUs: one such run per node, so three runs fill the cluster."""
OPEN = ("created", "queued", "provisioning", "running")
FULL = "no suitable node (insufficient resources on 3 nodes)"
"""Swarm's reason for a pending task when every node is full."""


@pytest.fixture(scope="module")
def swarm(request: pytest.FixtureRequest) -> Cluster:
    return cast(Cluster, request.getfixturevalue("cluster"))


@pytest.fixture(scope="module")
def env(swarm: Cluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """The environment of a swarm installation with its own data directory (shared by this
    module's tests, so generated material is made once). Whatever its runs left on the
    cluster is removed afterwards."""
    env = {
        **os.environ,
        "PRODPROVEN_DATA_DIR": str(tmp_path_factory.mktemp("swarm-data")),
        "PRODPROVEN_BACKEND": "swarm",
        "PRODPROVEN_SWARM_MANAGER": swarm.state["CLUSTER_MANAGER_URL"],
        "PRODPROVEN_SWARM_REGISTRY": swarm.state["CLUSTER_REGISTRY_PUSH"],
        "PRODPROVEN_SWARM_REGISTRY_PULL": swarm.state["CLUSTER_REGISTRY_PULL"],
    }
    yield env
    listing = subprocess.run(
        [sys.executable, "-m", "prodproven.runner.cli", "status", "--json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=True,
    )
    backend = swarm.backend()
    for run in json.loads(listing.stdout):
        backend.remove_run(run["run_id"])


def cli(env: dict[str, str], *args: str) -> Any:
    """``prodproven ARGS --json`` in a subprocess; its JSON output (the exit code 0)."""
    proc = subprocess.run(
        [sys.executable, "-m", "prodproven.runner.cli", *args, "--json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout)


def cli_json(env: dict[str, str], *args: str) -> dict[str, Any]:
    """:func:`cli` for a command that prints one object."""
    doc = cli(env, *args)
    assert isinstance(doc, dict), doc
    return doc


def cancel(env: dict[str, str], run_id: str) -> None:
    assert cli_json(env, "cancel", run_id, "--reason", "test over")["status"] == "cancelled"


def cancel_open(env: dict[str, str]) -> None:
    """Cancel every run of the data directory that is not over yet."""
    for run in cli(env, "status"):
        if run["status"] in OPEN:
            cancel(env, run["run_id"])


def wait_status(env: dict[str, str], run_id: str, status: str, timeout: float) -> dict[str, Any]:
    """``status RUN --json`` once it shows ``status`` (polled until ``timeout`` seconds)."""
    deadline = time.monotonic() + timeout
    doc = cli_json(env, "status", run_id)
    while doc["status"] != status and time.monotonic() < deadline:
        time.sleep(1)
        doc = cli_json(env, "status", run_id)
    assert doc["status"] == status, doc
    return doc


def node_of(swarm: Cluster, run_id: str) -> str:
    """The hostname of the node whose engine runs ``run_id``'s pod (its owner task's node)."""
    (service,) = swarm.manager.services.list(filters={"label": f"{RUN_LABEL}={run_id}"})
    (task,) = [t for t in service.tasks() if t["Status"]["State"] == "running"]
    return str(swarm.manager.nodes.get(task["NodeID"]).attrs["Description"]["Hostname"])


@pytest.fixture(scope="module")
def filling(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A copy of deploy-model whose run reserves most of a node (:data:`FILLING`), as a folder
    the CLI starts; its image and generated material are deploy-model's own."""
    root = tmp_path_factory.mktemp("filling") / "deploy-model"
    shutil.copytree(DEPLOY_MODEL, root)
    spec = root / "challenge.yaml"
    text = spec.read_text()
    assert RESERVATION in text, f"{spec}: no {RESERVATION!r} to replace"
    spec.write_text(text.replace(RESERVATION, FILLING))
    return str(root)


class Placements:
    """Which engine held which run's containers, sampled every half second: each node's
    engine by its hostname, and the runner's own engine as ``local``."""

    def __init__(self, swarm: Cluster) -> None:
        self._engines = {**swarm.engines, "local": docker.from_env()}
        self.seen: set[tuple[str, str, str]] = set()
        """(run id, purpose, engine)"""
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.is_set():
            for name, engine in self._engines.items():
                try:
                    listed = engine.containers.list(filters={"label": RUN_LABEL})
                except docker.errors.DockerException:
                    continue  # a container went between listing and inspecting it: next round
                for container in listed:
                    labels = container.labels
                    self.seen.add((labels[RUN_LABEL], labels.get(PURPOSE_LABEL, ""), name))
            self._stop.wait(0.5)

    def of(self, run_id: str) -> dict[str, set[str]]:
        """The engines that held each purpose's pod of ``run_id``."""
        found: dict[str, set[str]] = {}
        for run, purpose, engine in self.seen:
            if run == run_id:
                found.setdefault(purpose, set()).add(engine)
        return found

    def __enter__(self) -> Placements:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=30)


@pytest.fixture
def placements(swarm: Cluster) -> Iterator[Placements]:
    with Placements(swarm) as watching:
        yield watching


def test_a_scripted_deploy_model_run_is_graded_with_every_pod_on_cluster_nodes(
    env: dict[str, str], swarm: Cluster, placements: Placements
) -> None:
    started = time.monotonic()
    result = cli_json(env, "run", "deploy-model", "--submission", str(SOLUTION))
    print(f"deploy-model on the cluster: {time.monotonic() - started:.1f} s")
    log = Path(env["PRODPROVEN_DATA_DIR"], "logs", "prodproven.log").read_text()
    print("\n".join(line for line in log.splitlines() if "swarm_images" in line))

    assert result["status"] == "graded"
    # What the reference answers is graded on the nodes as anywhere. Its latency verdicts are
    # not asserted: CI runs this beside its parallel phase, whose load on this machine's two
    # cores moves a p95 (the timing tests grade deploy-model alone).
    met = {r["grader"]: r["met"] for r in result["requirements"]}
    assert met["correctness"] and met["robustness"], json.dumps(result["requirements"])[:3000]
    assert {"load", "batch-load"} <= set(met)
    held = placements.of(result["run_id"])
    assert {"workspace", "evaluation"} <= set(held)
    assert set().union(*held.values()) <= set(swarm.engines)
    # Removed with the run: nothing of it is left on the manager.
    assert not swarm.manager.services.list(filters={"label": f"{RUN_LABEL}={result['run_id']}"})


def test_three_challenges_started_at_once_are_spread_over_the_nodes(
    env: dict[str, str], swarm: Cluster, placements: Placements
) -> None:
    started = time.monotonic()
    with ThreadPoolExecutor(len(AT_ONCE)) as pool:
        starting = [
            pool.submit(cli_json, env, "start", challenge, "--candidate", "ada", "--no-supervise")
            for challenge in AT_ONCE
        ]
    print(f"{', '.join(AT_ONCE)} started at once: {time.monotonic() - started:.1f} s")
    runs = [future.result() for future in starting]
    try:
        assert [run["status"] for run in runs] == ["running"] * len(AT_ONCE)
        nodes = [placements.of(run["run_id"])["workspace"] for run in runs]
        assert all(len(engines) == 1 for engines in nodes), nodes
        assert set().union(*nodes) == set(swarm.engines), nodes
    finally:
        cancel_open(env)


def test_a_full_cluster_queues_a_fourth_run_until_one_is_cancelled(
    env: dict[str, str], swarm: Cluster, filling: str
) -> None:
    start = ("start", filling, "--candidate", "ada", "--no-supervise")
    before = {run["run_id"] for run in cli(env, "status")}
    with ThreadPoolExecutor(NODES + 1) as pool:
        try:
            runs = [r["run_id"] for r in pool.map(lambda _: cli_json(env, *start), range(NODES))]
            assert len({node_of(swarm, run_id) for run_id in runs}) == NODES
            fourth = pool.submit(cli_json, env, *start)
            waiting: list[str] = []
            deadline = time.monotonic() + 30
            while not waiting and time.monotonic() < deadline:
                time.sleep(1)
                made = {r["run_id"] for r in cli(env, "status")} - before
                waiting = sorted(made - set(runs))
            assert len(waiting) == 1, "the fourth start made no run in 30 s"
            queued = wait_status(env, waiting[0], "queued", 30)
            assert (queued["queue_position"], queued["error"]) == (None, FULL)
            assert not fourth.done()

            freed = node_of(swarm, runs[0])
            cancel(env, runs[0])
            assert fourth.result(timeout=120)["status"] == "running"
            assert node_of(swarm, waiting[0]) == freed
            events = cli_json(env, "show", waiting[0], "--events")["events"]
            assert "cluster.waiting" in [e["kind"] for e in events]
        finally:
            cancel_open(env)


def test_a_run_whose_node_is_killed_is_marked_errored_by_its_supervisor(
    env: dict[str, str], swarm: Cluster, filling: str
) -> None:
    # The manager is never killed (the cluster has one): a task reserving 1 of its 2 CPUs
    # leaves no room there for a run reserving 1.5, so the run lands on a worker.
    manager = swarm.manager.info()["Name"]
    blocker = swarm.manager.services.create(
        swarm.image,
        command=["python3", "-c", "import signal; signal.pause()"],
        name=f"pp-swarm-runs-blocker-{os.getpid()}",
        constraints=[f"node.hostname=={manager}"],
        resources=docker.types.Resources(cpu_reservation=10**9),
        restart_policy=docker.types.RestartPolicy(condition="none"),
    )
    try:
        deadline = time.monotonic() + 30
        while not blocker.tasks() and time.monotonic() < deadline:  # reserved once assigned
            time.sleep(0.2)
        run_id = cli_json(env, "start", filling, "--candidate", "grace")["run_id"]
        node = node_of(swarm, run_id)
        assert node != manager
        docker.from_env().containers.get(node).kill()
        started = time.monotonic()
        errored = wait_status(env, run_id, "errored", 60)
        print(f"node {node} killed: run errored after {time.monotonic() - started:.1f} s")
        assert f"node {node} " in errored["error"], errored
        events = cli_json(env, "show", run_id, "--events")["events"]
        assert "pod.lost" in [e["kind"] for e in events]
    finally:
        blocker.remove()
        subprocess.run([str(CLUSTER_SH), "up", str(NODES)], check=True, timeout=300)
        cancel_open(env)  # a run still running keeps its supervisor from exiting
