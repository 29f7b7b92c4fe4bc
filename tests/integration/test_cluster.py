"""The local Swarm cluster (infra/cluster.sh) and the facts the Swarm backend is built on.

Placement is Swarm's: a reservation spreads replicas over the nodes and leaves a task pending
when no node has room. A pod is a Swarm task (the owner, on the run's own internal overlay)
plus containers created on the chosen node's engine in the owner's network namespace: those
keep the whole security profile and reach nothing but their pod, on every node.

Uses a running cluster when its state file answers, otherwise brings up three nodes, taken down
by the last test process using it (tests/integration/test_swarm_runs.py shares it, perhaps from
another xdist worker).
"""

from __future__ import annotations

import json
import secrets
import socket
import subprocess
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import docker
import pytest

from prodproven.sandbox.environment import ContainerSpec, Limits, PodSize
from prodproven.sandbox.swarm_backend import SwarmBackend, SwarmPod
from tests.integration.swarm_cluster import BASE_IMAGE, CLUSTER_SH, NODES, Cluster

pytestmark = pytest.mark.cluster

LABEL = "prodproven.test-cluster"
NANO = 10**9
PLACEMENT_TIMEOUT_S = 120.0
PROBE = r"""
import json, os, socket, sys
def reach(host, port):
    try:
        socket.create_connection((host, port), timeout=2).close()
        return "connected"
    except OSError as exc:
        return type(exc).__name__ + ": " + str(exc)
def status(key):
    for line in open("/proc/self/status"):
        if line.startswith(key + ":"):
            return line.split()[1]
def writable(path):
    try:
        open(path, "w").close()
        return True
    except OSError:
        return False
routes = [line.split()[1] for line in open("/proc/net/route").readlines()[1:]]
print(json.dumps({
    "uid": os.getuid(),
    "no_new_privs": status("NoNewPrivs"),
    "cap_eff": status("CapEff"),
    "interfaces": sorted(os.listdir("/sys/class/net")),
    "default_route": "00000000" in routes,
    "root_writable": writable("/probe"),
    "pids_max": open("/sys/fs/cgroup/pids/pids.max").read().strip(),
    "memory_limit": int(open("/sys/fs/cgroup/memory/memory.limit_in_bytes").read()),
    "reach": {f"{h}:{p}": reach(h, p) for h, p in json.loads(sys.argv[1])},
}))
"""
LISTENER = (
    "import socket, time\n"
    "s = socket.socket(); s.bind(('0.0.0.0', 8000)); s.listen(8)\n"
    "while True: s.accept()\n"
)


@pytest.fixture
def services(cluster: Cluster) -> Iterator[Callable[..., Any]]:
    """Creates services labelled for this test; removes them (and their networks) afterwards."""
    made: list[Any] = []

    def create(name: str, **kwargs: Any) -> Any:
        service = cluster.manager.services.create(
            cluster.image,
            name=f"pp-cluster-t-{name}-{secrets.token_hex(3)}",
            labels={LABEL: "1"},
            restart_policy=docker.types.RestartPolicy(condition="none"),
            **kwargs,
        )
        made.append(service)
        return service

    yield create
    for service in made:
        service.remove()


def _wait_tasks(service: Any, state: str, count: int, timeout: float = 120) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        tasks = [t for t in service.tasks() if t["Status"]["State"] == state]
        if len(tasks) >= count:
            return tasks
        time.sleep(0.5)
    raise AssertionError(
        f"{service.name}: not {count} tasks {state} in {timeout} s: {service.tasks()}"
    )


def _hostname(cluster: Cluster, task: dict[str, Any]) -> str:
    return str(cluster.manager.nodes.get(task["NodeID"]).attrs["Description"]["Hostname"])


def _reserving(cpus: float, **kwargs: Any) -> dict[str, Any]:
    return {
        "command": ["python3", "-c", "import signal; signal.pause()"],
        "resources": docker.types.Resources(cpu_reservation=int(cpus * NANO)),
        **kwargs,
    }


def test_every_node_is_ready_and_names_its_engine(cluster: Cluster) -> None:
    nodes = cluster.manager.nodes.list()
    assert len(nodes) == NODES
    assert {n.attrs["Status"]["State"] for n in nodes} == {"ready"}
    for name, engine in cluster.engines.items():
        info = engine.info()
        assert info["Name"] == name
        assert info["Driver"] == "overlay2"
        assert info["Swarm"]["LocalNodeState"] == "active"


def test_swarm_spreads_reserved_tasks_and_queues_one_that_fits_nowhere(
    cluster: Cluster, services: Callable[..., Any]
) -> None:
    # Each node offers 2 CPUs to Swarm: a task reserving 1.5 leaves room for no second one.
    spread = services(
        "spread", mode=docker.types.ServiceMode("replicated", NODES), **_reserving(1.5)
    )
    running = _wait_tasks(spread, "running", NODES)
    assert sorted(_hostname(cluster, t) for t in running) == sorted(cluster.engines)

    fourth = services("fourth", **_reserving(1.5))
    time.sleep(3)
    (task,) = fourth.tasks()
    assert task["Status"]["State"] == "pending"
    assert task["Status"]["Err"] == f"no suitable node (insufficient resources on {NODES} nodes)"

    spread.scale(NODES - 1)
    (started,) = _wait_tasks(fourth, "running", 1, timeout=60)
    assert _hostname(cluster, started) in cluster.engines


def test_a_service_cannot_ask_for_no_network(
    cluster: Cluster, services: Callable[..., Any]
) -> None:
    with pytest.raises(docker.errors.APIError, match="network none not found"):
        services("none", networks=["none"], **_reserving(0))


def test_a_service_given_no_network_lands_on_the_bridge_with_a_route_to_the_host(
    cluster: Cluster, services: Callable[..., Any], host_listener: int
) -> None:
    gateway = docker.from_env().networks.get("pp-cluster-net").attrs["IPAM"]["Config"][0]["Gateway"]
    service = services(
        "bridge",
        command=["python3", "-c", PROBE, json.dumps([[gateway, host_listener]])],
        user="1000:1000",
    )
    (task,) = _wait_tasks(service, "complete", 1)
    engine = cluster.engines[_hostname(cluster, task)]
    container = engine.containers.get(task["Status"]["ContainerStatus"]["ContainerID"])
    result = json.loads(container.logs(stdout=True, stderr=False))
    assert container.attrs["HostConfig"]["NetworkMode"] == "default"
    assert result["default_route"] is True
    assert result["reach"] == {f"{gateway}:{host_listener}": "connected"}
    # Set daemon-wide on the nodes: services have no such option.
    assert result["no_new_privs"] == "1"


@dataclass(frozen=True)
class PodOnNode:
    node: str
    owner_container: str
    overlay_address: str


@pytest.fixture(scope="module")
def pods(cluster: Cluster) -> Iterator[dict[str, PodOnNode]]:
    """One pod per node (the owner pinned to it here only to cover every node), each owner on
    its own internal overlay, reserving for the whole pod, listening on port 8000."""
    made: list[Any] = []
    pods: dict[str, PodOnNode] = {}
    try:
        for node in sorted(cluster.engines):
            run = secrets.token_hex(3)
            network = cluster.manager.networks.create(
                f"pp-cluster-t-run-{run}",
                driver="overlay",
                internal=True,
                attachable=True,
                labels={LABEL: "1"},
            )
            made.append(network)
            resources = docker.types.Resources(
                cpu_reservation=NANO // 4, mem_reservation=256 * 2**20
            )
            owner = cluster.manager.services.create(
                cluster.image,
                command=["python3", "-c", LISTENER],
                name=f"pp-cluster-t-owner-{run}",
                labels={LABEL: "1"},
                networks=[network.id],
                user="65534:65534",
                cap_drop=["ALL"],
                read_only=True,
                resources=resources,
                constraints=[f"node.hostname=={node}"],
                restart_policy=docker.types.RestartPolicy(condition="none"),
            )
            made.insert(0, owner)
            (task,) = _wait_tasks(owner, "running", 1)
            container = task["Status"]["ContainerStatus"]["ContainerID"]
            address = task["NetworksAttachments"][0]["Addresses"][0].split("/")[0]
            pods[node] = PodOnNode(node, container, address)
        yield pods
    finally:
        for obj in made:
            obj.remove()


def _probe(cluster: Cluster, pod: PodOnNode, targets: list[tuple[str, int]]) -> dict[str, Any]:
    engine = cluster.engines[pod.node]
    image = engine.containers.get(pod.owner_container).image.id
    box = engine.containers.run(
        image,
        ["python3", "-c", PROBE, json.dumps(targets)],
        network_mode=f"container:{pod.owner_container}",
        user="1000:1000",
        cap_drop=["ALL"],
        security_opt=["no-new-privileges"],
        read_only=True,
        mem_limit="128m",
        nano_cpus=NANO // 2,
        pids_limit=64,
        labels={LABEL: "1"},
        detach=True,
    )
    try:
        box.wait(timeout=120)
        result: dict[str, Any] = json.loads(box.logs(stdout=True, stderr=False))
        return result
    finally:
        box.remove(force=True)


@pytest.fixture(scope="module")
def host_listener() -> Iterator[int]:
    """A listener of the outer host on 0.0.0.0, the stand-in for any host service."""
    server = socket.create_server(("0.0.0.0", 0))
    port = int(server.getsockname()[1])

    def serve() -> None:
        while True:
            try:
                server.accept()[0].close()
            except OSError:
                return

    threading.Thread(target=serve, daemon=True).start()
    yield port
    server.close()


@pytest.mark.parametrize("node", [f"pp-cluster-node-{i}" for i in range(1, NODES + 1)])
def test_a_pod_container_keeps_the_profile_and_reaches_only_its_pod(
    cluster: Cluster, pods: dict[str, PodOnNode], host_listener: int, node: str
) -> None:
    pod = pods[node]
    outside = (
        [(address, host_listener) for address in cluster.host_addresses]
        + [(address, 2375) for address in cluster.addresses.values()]
        + [(cluster.registry_address, 5000)]
        + [(other.overlay_address, 8000) for other in pods.values() if other is not pod]
    )
    inside = [("127.0.0.1", 8000), (pod.overlay_address, 8000)]
    result = _probe(cluster, pod, inside + outside)

    assert result["uid"] == 1000
    assert result["no_new_privs"] == "1"
    assert int(result["cap_eff"], 16) == 0
    assert result["root_writable"] is False
    assert result["pids_max"] == "64"
    assert result["memory_limit"] == 128 * 2**20
    assert result["interfaces"] == ["eth0", "lo"]
    assert result["default_route"] is False
    for host, port in inside:
        assert result["reach"][f"{host}:{port}"] == "connected"
    reached = [target for target, outcome in result["reach"].items() if outcome == "connected"]
    assert reached == [f"{host}:{port}" for host, port in inside]


def test_the_swarm_backend_places_a_pod_that_works_like_a_local_one(cluster: Cluster) -> None:
    backend = cluster.backend()
    run_id = "t" + secrets.token_hex(4)
    pod = backend.create_pod(run_id, "workspace", hosts=["svc"], size=PodSize(512 * 2**20, 0.5))
    try:
        member = pod.add(
            ContainerSpec(
                role="service",
                image=BASE_IMAGE,
                limits=Limits(memory_bytes=128 * 2**20, cpus=0.25, pids=64),
                command=["python3", "-m", "http.server", "8000", "--bind", "127.0.0.1"],
                workdir="/",
            )
        )
        member.start()
        pod.wait_http(8000, "/", timeout=30)
        assert member.exec(["id", "-u"]).stdout.strip() == "1000"
        published = pod.publish(8000)
        with urllib.request.urlopen(f"{published.url}/", timeout=10) as answer:
            assert answer.status == 200
        assert pod.lost() is None
        assert run_id in backend.run_ids_with_leftovers()
    finally:
        pod.remove()
    assert run_id not in backend.run_ids_with_leftovers()


def _filling_backend(cluster: Cluster) -> SwarmBackend:
    """Pods reserving 1.5 of a node's 2 CPUs by default: one per node."""
    return cluster.backend(
        default_size=PodSize(memory_bytes=256 * 2**20, cpus=1.5),
        placement_timeout=PLACEMENT_TIMEOUT_S,
    )


def test_a_full_cluster_queues_the_next_pod_until_one_is_removed(cluster: Cluster) -> None:
    queued: list[str] = []
    backend = _filling_backend(cluster)
    run = "t" + secrets.token_hex(3)
    pods = [backend.create_pod(f"{run}{i}", "workspace") for i in range(NODES)]
    fourth: list[SwarmPod] = []
    waiter = threading.Thread(
        target=lambda: fourth.append(
            backend.create_pod(f"{run}q", "workspace", on_wait=queued.append)
        )
    )
    try:
        waiter.start()
        deadline = time.monotonic() + 30
        while not queued and time.monotonic() < deadline:
            time.sleep(0.2)
        assert queued == [f"no suitable node (insufficient resources on {NODES} nodes)"]
        assert waiter.is_alive()

        pods.pop().remove()
        waiter.join(timeout=60)
        assert len(fourth) == 1
        assert fourth[0].lost() is None
    finally:
        for pod in pods:
            pod.remove()
        waiter.join(timeout=PLACEMENT_TIMEOUT_S + 30)
        for pod in fourth:
            pod.remove()


def test_a_lost_node_is_reported_for_its_pods_and_only_theirs(cluster: Cluster) -> None:
    backend = _filling_backend(cluster)
    run = "t" + secrets.token_hex(3)
    pods = [backend.create_pod(f"{run}{i}", "workspace") for i in range(NODES)]
    manager = cluster.manager.info()["Name"]
    lost = next(pod for pod in pods if pod.node != manager)  # the cluster has one manager
    try:
        docker.from_env().containers.get(lost.node).kill()
        started = time.monotonic()
        reason = None
        while reason is None and time.monotonic() - started < 60:
            reason = lost.lost()
            time.sleep(0.5)
        assert reason == f"node {lost.node} of run {lost.run_id} is down"
        assert [pod.lost() for pod in pods if pod is not lost] == [None] * (NODES - 1)
    finally:
        subprocess.run([str(CLUSTER_SH), "up", str(NODES)], check=True, timeout=300)
        for pod in pods:
            backend.remove_run(pod.run_id)
