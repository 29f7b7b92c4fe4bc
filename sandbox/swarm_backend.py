"""Pods placed by Docker Swarm (issue 20; a sketch, not registered as a backend yet).

Swarm chooses the node: the pod's owner is a one-task service reserving the whole pod's CPU and
memory, on the run's own ``--internal`` overlay network (no route out, nothing else on it).
Once the task runs, the pod is an ordinary :class:`DockerPod` on the chosen node's engine (its
address from the node's ``prodproven.engine`` label): the other containers join the owner's
namespace there with the full security profile that services cannot have. prodproven keeps no
node list. The design and the facts it rests on: docs/scaling.md.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import docker
import docker.errors
import docker.types

from prodproven.sandbox.docker_backend import (
    PURPOSE_LABEL,
    ROLE_LABEL,
    DockerPod,
    _remove_labelled,
)
from prodproven.sandbox.environment import (
    KEEPALIVE,
    NOBODY_USER,
    RUN_LABEL,
    Backend,
    ContainerSpec,
    Limits,
    Sandbox,
)
from prodproven.sandbox.errors import ContainerError, ImageError

ENGINE_LABEL = "prodproven.engine"
"""The node label naming the node's engine API (``tcp://host:2376``) for the runner."""
POLL_S = 0.5
NETWORK_REMOVAL_WAIT_S = 30.0


@dataclass(frozen=True)
class Placement:
    """Where Swarm put a pod's owner."""

    node: str
    engine_url: str
    container_id: str


def _owner_name(run_id: str, purpose: str) -> str:
    return f"pp-{run_id}-{purpose}-pod"


class SwarmPod(DockerPod):
    """A pod on one node's engine, owned by a Swarm task."""

    def __init__(
        self,
        node_client: Any,
        placement: Placement,
        run_id: str,
        purpose: str,
        manager: Any,
        service: Any,
        network: Any,
    ) -> None:
        owner = node_client.containers.get(placement.container_id)
        super().__init__(node_client, owner, run_id, purpose, None)
        self.node = placement.node
        """The hostname of the node Swarm chose."""
        self._manager = manager
        self._service = service
        self._network = network

    def add(self, spec: ContainerSpec) -> Sandbox:
        """Pulls ``spec.image`` (a name in the cluster's registry) on the node when missing."""
        try:
            self._client.images.get(spec.image)
        except docker.errors.ImageNotFound:
            try:
                self._client.images.pull(spec.image)
            except docker.errors.APIError as exc:
                raise ImageError(
                    f"node engine cannot pull {spec.image} for the {spec.role} container of "
                    f"run {self.run_id}: {exc}"
                ) from exc
        return super().add(spec)

    def node_lost(self) -> str | None:
        """Why the owner's node is gone (its node is down, or Swarm shut the task down without
        being asked), or None while it runs."""
        tasks = self._service.tasks()
        if not tasks:
            return f"the owner task of run {self.run_id} is gone"
        task = tasks[0]
        node = self._manager.nodes.get(task["NodeID"])
        hostname = node.attrs["Description"]["Hostname"]
        if node.attrs["Status"]["State"] != "ready":
            return f"node {hostname} of run {self.run_id} is {node.attrs['Status']['State']}"
        if task["DesiredState"] != "running":
            return f"Swarm shut down the owner of run {self.run_id} on node {hostname}"
        return None

    def remove(self) -> None:
        """Also removes the owner's service and the run's network, and waits (up to
        NETWORK_REMOVAL_WAIT_S) until the manager has let the network go: Swarm removes it
        after the request returns."""
        super().remove()
        for obj in (self._service, self._network):
            try:
                obj.remove()
            except docker.errors.NotFound:
                pass
            except docker.errors.APIError as exc:
                raise ContainerError(
                    f"cannot remove {obj.name} of run {self.run_id}: {exc}"
                ) from exc
        deadline = time.monotonic() + NETWORK_REMOVAL_WAIT_S
        while time.monotonic() < deadline:
            try:
                self._network.reload()
            except docker.errors.NotFound:
                return
            time.sleep(POLL_S)


class SwarmBackend(Backend):
    """Creates pods through a Swarm manager. ``reservation``: what each pod reserves (the sum
    of its containers' limits); ``on_queued(run_id, why)`` is called once when Swarm leaves a
    pod pending for want of room."""

    def __init__(
        self,
        manager: Any,
        pod_image: str,
        reservation: Limits,
        *,
        placement_timeout: float = 3600.0,
        on_queued: Callable[[str, str], None] = lambda run_id, why: None,
        connect: Callable[[str], Any] = lambda url: docker.DockerClient(base_url=url, timeout=120),
    ) -> None:
        self._manager = manager
        self._pod_image = pod_image
        self._reservation = reservation
        self._placement_timeout = placement_timeout
        self._on_queued = on_queued
        self._connect = connect

    def create_pod(self, run_id: str, purpose: str, *, hosts: Sequence[str] = ()) -> SwarmPod:
        labels = {RUN_LABEL: run_id, PURPOSE_LABEL: purpose}
        name = _owner_name(run_id, purpose)
        try:
            network = self._manager.networks.create(
                name, driver="overlay", internal=True, attachable=True, labels=labels
            )
            service = self._manager.services.create(
                self._pod_image,
                command=KEEPALIVE,
                name=name,
                labels=labels,
                container_labels={**labels, ROLE_LABEL: "pod"},
                networks=[network.id],
                hosts={host: "127.0.0.1" for host in hosts},
                user=NOBODY_USER,
                cap_drop=["ALL"],
                read_only=True,
                resources=self._resources(),
                endpoint_spec=docker.types.EndpointSpec(mode="dnsrr"),
                restart_policy=docker.types.RestartPolicy(condition="none"),
            )
        except docker.errors.APIError as exc:
            raise ContainerError(f"Swarm refused the pod {name}: {exc}") from exc
        try:
            return self._pod(service, network, run_id, purpose)
        except ContainerError:
            service.remove()
            network.remove()
            raise

    def _pod(self, service: Any, network: Any, run_id: str, purpose: str) -> SwarmPod:
        placement = self._wait_placed(service, run_id)
        return SwarmPod(
            self._connect(placement.engine_url),
            placement,
            run_id,
            purpose,
            self._manager,
            service,
            network,
        )

    def attach_pod(self, run_id: str, purpose: str) -> SwarmPod | None:
        name = _owner_name(run_id, purpose)
        try:
            service = self._manager.services.get(name)
            network = self._manager.networks.get(name)
        except docker.errors.NotFound:
            return None
        try:
            return self._pod(service, network, run_id, purpose)
        except ContainerError:
            return None

    def run_ids_with_leftovers(self) -> set[str]:
        owned = {"label": RUN_LABEL}
        found = {
            s.attrs["Spec"]["Labels"][RUN_LABEL] for s in self._manager.services.list(filters=owned)
        }
        found |= {n.attrs["Labels"][RUN_LABEL] for n in self._manager.networks.list(filters=owned)}
        for engine in self._engines():
            found |= {c.labels[RUN_LABEL] for c in engine.containers.list(all=True, filters=owned)}
        return found

    def remove_run(self, run_id: str, *, keep_volumes: bool = False) -> int:
        selector = {"label": f"{RUN_LABEL}={run_id}"}
        removed = sum(
            _remove_labelled(engine, {RUN_LABEL: run_id}, keep_volumes=keep_volumes)
            for engine in self._engines()
        )
        for kind in (self._manager.services, self._manager.networks):
            for obj in kind.list(filters=selector):
                obj.remove()
                removed += 1
        return removed

    def _engines(self) -> list[Any]:
        """The engines of the nodes Swarm reports ready (read from Swarm, never kept)."""
        return [
            self._connect(node.attrs["Spec"]["Labels"][ENGINE_LABEL])
            for node in self._manager.nodes.list()
            if node.attrs["Status"]["State"] == "ready"
            and ENGINE_LABEL in node.attrs["Spec"].get("Labels", {})
        ]

    def _resources(self) -> Any:
        limits = self._reservation
        resources = docker.types.Resources(
            cpu_reservation=int(limits.cpus * 1e9), mem_reservation=limits.memory_bytes
        )
        resources["Limits"] = {"Pids": limits.pids}
        return resources

    def _wait_placed(self, service: Any, run_id: str) -> Placement:
        deadline = time.monotonic() + self._placement_timeout
        queued = False
        while time.monotonic() < deadline:
            for task in service.tasks():
                status = task["Status"]
                if status["State"] == "running":
                    node = self._manager.nodes.get(task["NodeID"])
                    return Placement(
                        node=node.attrs["Description"]["Hostname"],
                        engine_url=node.attrs["Spec"]["Labels"][ENGINE_LABEL],
                        container_id=status["ContainerStatus"]["ContainerID"],
                    )
                if status["State"] in ("failed", "rejected", "shutdown", "complete"):
                    raise ContainerError(
                        f"the owner of run {run_id} ended {status['State']} before running: "
                        f"{status.get('Err') or status.get('Message')}"
                    )
                if status["State"] == "pending" and status.get("Err") and not queued:
                    queued = True
                    self._on_queued(run_id, status["Err"])
            time.sleep(POLL_S)
        raise ContainerError(
            f"Swarm placed no owner for run {run_id} within {self._placement_timeout:.0f} s"
        )
