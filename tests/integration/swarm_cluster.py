"""The local Swarm cluster of infra/cluster.sh as the cluster tests share it (the session
fixture ``cluster`` of tests/integration/conftest.py): brought up when none answers, shared by
the test processes that ask for it, and the clients it gives."""

from __future__ import annotations

import fcntl
import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker

from prodproven.runner.config import Settings
from prodproven.sandbox.swarm_backend import ENGINE_LABEL, SwarmBackend
from prodproven.sandbox.swarm_images import RegistryImages

REPO = Path(__file__).resolve().parents[2]
CLUSTER_SH = REPO / "infra" / "cluster.sh"
NODES = 3
BASE_IMAGE = os.environ.get("CLUSTER_BASE_IMAGE", "prodproven/base:bookworm")


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
    images: RegistryImages
    """The registry as the Swarm backend uses it (one per session: each image pushed once)."""
    state: dict[str, str]
    """The state file of infra/cluster.sh (manager URL, registry addresses)."""

    def backend(self, **kwargs: Any) -> SwarmBackend:
        """A Swarm backend on this cluster whose pods run the base image."""
        return SwarmBackend(self.manager, self.images, BASE_IMAGE, **kwargs)


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


def shared_cluster() -> Iterator[Cluster]:
    """The cluster, shared by the test processes (xdist workers) that ask for it: the first
    brings it up under an exclusive lock, each holds a shared lock while it uses it, and the
    last one out takes it down when tests brought it up (never one a person started)."""
    data = _state_file().parent
    data.mkdir(parents=True, exist_ok=True)
    by_tests = data / "cluster.by-tests"
    with (data / "cluster-tests.lock").open("a+") as users:
        fcntl.flock(users, fcntl.LOCK_EX)
        if not _answers(_read_state()):
            subprocess.run([str(CLUSTER_SH), "up", str(NODES)], check=True, timeout=900)
            by_tests.touch()
        fcntl.flock(users, fcntl.LOCK_SH)
        yield _connect()
        try:
            fcntl.flock(users, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return  # another test process still uses it
        if by_tests.exists():
            subprocess.run([str(CLUSTER_SH), "down"], check=True, timeout=300)
            by_tests.unlink()


def _connect() -> Cluster:
    """The running cluster's clients, its probe image pushed to its registry."""
    state = _read_state()
    assert state is not None, f"{CLUSTER_SH} up wrote no state file at {_state_file()}"
    host = docker.from_env()
    pushed = f"{state['CLUSTER_REGISTRY_PUSH']}/prodproven/probe:latest"
    host.images.get(BASE_IMAGE).tag(pushed)
    pushing = host.images.push(pushed)
    assert '"error"' not in pushing, f"pushing {pushed} failed: {pushing}"
    manager = docker.DockerClient(base_url=state["CLUSTER_MANAGER_URL"], timeout=60)
    engines, addresses = {}, {}
    for node in manager.nodes.list():
        name = node.attrs["Description"]["Hostname"]
        engines[name] = docker.DockerClient(
            base_url=node.attrs["Spec"]["Labels"][ENGINE_LABEL], timeout=60
        )
        addresses[name] = node.attrs["Status"]["Addr"]
    registry = host.containers.get("pp-cluster-registry")
    return Cluster(
        manager=manager,
        engines=engines,
        addresses=addresses,
        image=f"{state['CLUSTER_REGISTRY_PULL']}/prodproven/probe:latest",
        host_addresses=_host_addresses(),
        registry_address=registry.attrs["NetworkSettings"]["Networks"]["pp-cluster-net"][
            "IPAddress"
        ],
        images=RegistryImages(host, state["CLUSTER_REGISTRY_PUSH"], state["CLUSTER_REGISTRY_PULL"]),
        state=state,
    )
