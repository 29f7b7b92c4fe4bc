"""The local Swarm cluster (infra/cluster.sh) and the facts the Swarm backend is built on.

Placement is Swarm's: a reservation spreads replicas over the nodes and leaves a task pending
when no node has room. A pod is a Swarm task (the owner, on the run's own internal overlay)
plus containers created on the chosen node's engine in the owner's network namespace: those
keep the whole security profile and reach nothing but their pod, on every node.

Uses a running cluster when its state file answers, otherwise brings up three nodes (and takes
them down at the end).
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker
import pytest

from prodproven.runner.config import Settings
from prodproven.sandbox.environment import ContainerSpec, Limits
from prodproven.sandbox.swarm_backend import ENGINE_LABEL, SwarmBackend, SwarmPod

pytestmark = pytest.mark.cluster

REPO = Path(__file__).resolve().parents[2]
CLUSTER_SH = REPO / "infra" / "cluster.sh"
NODES = 3
BASE_IMAGE = os.environ.get("CLUSTER_BASE_IMAGE", "prodproven/base:bookworm")
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


@dataclass(frozen=True)
class Cluster:
    manager: Any
    engines: dict[str, Any]
    """Each node's engine client, by node hostname (from the node's prodproven.engine label)."""
    addresses: dict[str, str]
    """Each node's address on the cluster network, by hostname."""
    image: str
    """The probe image as the nodes pull it from the cluster's registry."""
    host_addresses: list[str]
    """Every address of the outer host a node could try: its gateways and its own."""
    registry_address: str


def _state_file() -> Path:
    return Settings.from_env().data_dir / "cluster.env"


def _read_state() -> dict[str, str] | None:
    path = _state_file()
    if not path.exists():
        return None
    pairs = (line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)
    return {key: value.strip('"') for key, value in pairs}


def _answers(state: dict[str, str] | None) -> bool:
    if state is None or int(state.get("CLUSTER_NODES", "0")) < NODES:
        return False
    try:
        nodes = docker.DockerClient(base_url=state["CLUSTER_MANAGER_URL"], timeout=5).nodes.list()
    except docker.errors.DockerException:
        return False
    ready: list[bool] = [node.attrs["Status"]["State"] == "ready" for node in nodes]
    return sum(ready) >= NODES


def _host_addresses() -> list[str]:
    out = subprocess.run(["hostname", "-I"], capture_output=True, text=True, check=True).stdout
    gateways = [
        config["Gateway"]
        for name in ("bridge", "pp-cluster-net")
        for config in docker.from_env().networks.get(name).attrs["IPAM"]["Config"]
        if config.get("Gateway")
    ]
    return sorted(set(out.split()) | set(gateways))


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    state = _read_state()
    started = not _answers(state)
    if started:
        subprocess.run([str(CLUSTER_SH), "up", str(NODES)], check=True, timeout=900)
        state = _read_state()
    assert state is not None, f"{CLUSTER_SH} up wrote no state file at {_state_file()}"
    host = docker.from_env()
    pushed = f"{state['CLUSTER_REGISTRY_PUSH']}/prodproven/probe:latest"
    host.images.get(BASE_IMAGE).tag(pushed)
    pushing = host.images.push(pushed)
    assert '"error"' not in pushing, f"pushing {pushed} failed: {pushing}"
    host.images.remove(pushed)  # the host needs only the base's own tag
    manager = docker.DockerClient(base_url=state["CLUSTER_MANAGER_URL"], timeout=60)
    engines, addresses = {}, {}
    for node in manager.nodes.list():
        name = node.attrs["Description"]["Hostname"]
        engines[name] = docker.DockerClient(
            base_url=node.attrs["Spec"]["Labels"][ENGINE_LABEL], timeout=60
        )
        addresses[name] = node.attrs["Status"]["Addr"]
    registry = host.containers.get("pp-cluster-registry")
    yield Cluster(
        manager=manager,
        engines=engines,
        addresses=addresses,
        image=f"{state['CLUSTER_REGISTRY_PULL']}/prodproven/probe:latest",
        host_addresses=_host_addresses(),
        registry_address=registry.attrs["NetworkSettings"]["Networks"]["pp-cluster-net"][
            "IPAddress"
        ],
    )
    if started:
        subprocess.run([str(CLUSTER_SH), "down"], check=True, timeout=300)


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


def test_the_swarm_backend_sketch_places_a_pod_that_works_like_a_local_one(
    cluster: Cluster,
) -> None:
    backend = SwarmBackend(
        cluster.manager, cluster.image, Limits(memory_bytes=512 * 2**20, cpus=0.5, pids=256)
    )
    run_id = "t" + secrets.token_hex(4)
    pod = backend.create_pod(run_id, "workspace", hosts=["svc"])
    try:
        member = pod.add(
            ContainerSpec(
                role="service",
                image=cluster.image,
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
        assert pod.node_lost() is None
        assert run_id in backend.run_ids_with_leftovers()
    finally:
        pod.remove()
    assert run_id not in backend.run_ids_with_leftovers()


def _filling_backend(cluster: Cluster, on_queued: Callable[[str, str], None]) -> SwarmBackend:
    """Pods reserving 1.5 of a node's 2 CPUs: one per node."""
    return SwarmBackend(
        cluster.manager,
        cluster.image,
        Limits(memory_bytes=256 * 2**20, cpus=1.5, pids=256),
        placement_timeout=PLACEMENT_TIMEOUT_S,
        on_queued=on_queued,
    )


def test_a_full_cluster_queues_the_next_pod_until_one_is_removed(cluster: Cluster) -> None:
    queued: list[tuple[str, str]] = []
    backend = _filling_backend(cluster, lambda run_id, why: queued.append((run_id, why)))
    run = "t" + secrets.token_hex(3)
    pods = [backend.create_pod(f"{run}{i}", "workspace") for i in range(NODES)]
    fourth: list[SwarmPod] = []
    waiter = threading.Thread(
        target=lambda: fourth.append(backend.create_pod(f"{run}q", "workspace"))
    )
    try:
        waiter.start()
        deadline = time.monotonic() + 30
        while not queued and time.monotonic() < deadline:
            time.sleep(0.2)
        assert queued == [
            (f"{run}q", f"no suitable node (insufficient resources on {NODES} nodes)")
        ]
        assert waiter.is_alive()

        pods.pop().remove()
        waiter.join(timeout=60)
        assert len(fourth) == 1
        assert fourth[0].node_lost() is None
    finally:
        for pod in pods:
            pod.remove()
        waiter.join(timeout=PLACEMENT_TIMEOUT_S + 30)
        for pod in fourth:
            pod.remove()


def test_a_lost_node_is_reported_for_its_pods_and_only_theirs(cluster: Cluster) -> None:
    backend = _filling_backend(cluster, lambda run_id, why: None)
    run = "t" + secrets.token_hex(3)
    pods = [backend.create_pod(f"{run}{i}", "workspace") for i in range(NODES)]
    manager = cluster.manager.info()["Name"]
    lost = next(pod for pod in pods if pod.node != manager)  # the cluster has one manager
    try:
        docker.from_env().containers.get(lost.node).kill()
        started = time.monotonic()
        reason = None
        while reason is None and time.monotonic() - started < 60:
            reason = lost.node_lost()
            time.sleep(0.5)
        assert reason == f"node {lost.node} of run {lost.run_id} is down"
        assert [pod.node_lost() for pod in pods if pod is not lost] == [None] * (NODES - 1)
    finally:
        subprocess.run([str(CLUSTER_SH), "up", str(NODES)], check=True, timeout=300)
        for pod in pods:
            backend.remove_run(pod.run_id)
