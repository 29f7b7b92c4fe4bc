"""Pods placed by Docker Swarm (``PRODPROVEN_BACKEND=swarm``, issue 20).

Swarm chooses the node: the pod's owner is a one-task service reserving the whole pod's CPU and
memory, on the run's own ``--internal`` overlay network (no route out, nothing else on it).
Once the task runs, the pod is an ordinary :class:`DockerPod` on the chosen node's engine (its
address from the node's ``prodproven.engine`` label): the other containers join the owner's
namespace there with the full security profile that services cannot have. prodproven keeps no
node list. Images reach the nodes through the cluster's registry (``swarm_images.py``). The
design and the facts it rests on: docs/scaling.md.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import docker
import docker.errors
import docker.types

from prodproven.sandbox.docker_backend import (
    ENGINE_ERRORS,
    POD_OWNER_LIMITS,
    PURPOSE_LABEL,
    ROLE_LABEL,
    DockerPod,
    _remove_labelled,
    owner_name,
)
from prodproven.sandbox.docker_backend import connect as connect_local
from prodproven.sandbox.environment import (
    KEEPALIVE,
    NOBODY_USER,
    RUN_LABEL,
    Backend,
    ContainerSpec,
    Pod,
    PodSize,
    Sandbox,
)
from prodproven.sandbox.errors import ContainerError, DockerUnavailable
from prodproven.sandbox.settings import BackendSettings
from prodproven.sandbox.swarm_images import RegistryImages
from prodproven.sandbox.swarm_owner import (
    ENDED_TASK_STATES,
    POLL_S,
    LostPod,
    engine_answers,
    owner_lost,
    remove_owner,
)

LOG = logging.getLogger(__name__)
ENGINE_LABEL = "prodproven.engine"
"""The node label naming the node's engine API (``tcp://host:2376``) for the runner."""
DEFAULT_POD_SIZE = PodSize(memory_bytes=2**30, cpus=1.0)
"""What a pod reserves when ``create_pod`` is given no size."""
Connect = Callable[[str], Any]
"""A Docker client for an engine API URL."""


def connect_url(url: str) -> Any:
    """A Docker client for the engine at ``url`` (nothing is asked of it yet)."""
    return docker.DockerClient(base_url=url, timeout=120)


@dataclass(frozen=True)
class Placement:
    """Where Swarm put a pod's owner."""

    node: str
    engine_url: str
    container_id: str


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
        images: RegistryImages,
    ) -> None:
        owner = node_client.containers.get(placement.container_id)
        super().__init__(node_client, owner, run_id, purpose, None)
        self.node = placement.node
        """The hostname of the node Swarm chose."""
        self._manager = manager
        self._service = service
        self._network = network
        self._images = images

    def add(self, spec: ContainerSpec) -> Sandbox:
        """Puts ``spec.image`` on the node through the registry first (ImageError)."""
        self._images.put_on(self._client, spec.image)
        return super().add(spec)

    def lost(self) -> str | None:
        """Why the pod is gone, as Swarm reports it: its node is down, its owner task ended or
        was shut down without the runner asking. None while it runs, and None when unsure: a
        manager that does not answer is logged, not a reason (it may be restarting, and a
        reason ends the run for good)."""
        try:
            return owner_lost(self._manager, self._service, self.run_id)
        except Exception as exc:  # never raises, by the interface's contract
            LOG.warning(
                "cannot tell whether the pod of run %s on node %s is lost: %s: %s",
                self.run_id,
                self.node,
                exc.__class__.__name__,
                exc,
            )
            return None

    def remove(self) -> None:
        """Also removes the owner's service and the run's network, and waits (up to
        NETWORK_REMOVAL_WAIT_S) until the manager has let the network go: Swarm removes it
        after the request returns."""
        super().remove()
        remove_owner(self._service, self._network, self.run_id)


class SwarmBackend(Backend):
    """Creates pods through a Swarm manager; ``images`` carries images to the nodes.
    ``default_size``: what a pod reserves when ``create_pod`` is given no size; ``connect``
    and ``answers``: a client for a node's engine URL, and whether it accepts connections."""

    def __init__(
        self,
        manager: Any,
        images: RegistryImages,
        pod_image: str,
        *,
        default_size: PodSize = DEFAULT_POD_SIZE,
        placement_timeout: float = 3600.0,
        connect: Connect = connect_url,
        answers: Callable[[str], bool] = engine_answers,
    ) -> None:
        self._manager = manager
        self._images = images
        self._pod_image = pod_image
        self._default_size = default_size
        self._placement_timeout = placement_timeout
        self._connect = connect
        self._answers = answers
        """Whether a node's engine URL accepts connections (checked before attaching)."""

    @classmethod
    def from_settings(
        cls,
        settings: BackendSettings,
        pod_image: str,
        *,
        connect: Connect = connect_url,
        local: Callable[[], Any] = connect_local,
    ) -> SwarmBackend:
        """The backend of ``settings.swarm_manager``, pushing from ``local()`` (the runner's
        engine) to ``settings.swarm_registry``. Raises DockerUnavailable naming the setting
        and its value when one is missing, the manager does not answer or is no manager."""
        url = settings.swarm_manager
        for key, value, what in (
            ("PRODPROVEN_SWARM_MANAGER", url, "the engine API URL of a Swarm manager"),
            ("PRODPROVEN_SWARM_REGISTRY", settings.swarm_registry, "the registry's host:port"),
        ):
            if not value:
                raise DockerUnavailable(
                    f"setting {key} is empty: PRODPROVEN_BACKEND=swarm needs {what}"
                )
        try:
            manager = connect(url)
            swarm = manager.info().get("Swarm", {})
        except Exception as exc:  # docker raises several unrelated types here
            raise DockerUnavailable(
                f"setting PRODPROVEN_SWARM_MANAGER={url!r}: the engine does not answer "
                f"({exc.__class__.__name__}: {exc})"
            ) from exc
        if not swarm.get("ControlAvailable"):
            raise DockerUnavailable(
                f"setting PRODPROVEN_SWARM_MANAGER={url!r}: that engine is not a Swarm manager "
                f"(its swarm state: {swarm.get('LocalNodeState') or 'none'})"
            )
        images = RegistryImages(
            local(),
            settings.swarm_registry,
            settings.swarm_registry_pull or settings.swarm_registry,
        )
        return cls(manager, images, pod_image, connect=connect)

    def create_pod(
        self,
        run_id: str,
        purpose: str,
        *,
        hosts: Sequence[str] = (),
        size: PodSize | None = None,
        on_wait: Callable[[str], None] | None = None,
    ) -> SwarmPod:
        labels = {RUN_LABEL: run_id, PURPOSE_LABEL: purpose}
        name = owner_name(run_id, purpose)
        self._images.push(self._pod_image)
        try:
            network = self._manager.networks.create(
                name, driver="overlay", internal=True, attachable=True, labels=labels
            )
            service = self._manager.services.create(
                self._images.pull_name(self._pod_image),
                command=KEEPALIVE,
                name=name,
                labels=labels,
                container_labels={**labels, ROLE_LABEL: "pod"},
                networks=[network.id],
                hosts={host: "127.0.0.1" for host in hosts},
                user=NOBODY_USER,
                cap_drop=["ALL"],
                read_only=True,
                resources=owner_resources(self._fitting(size or self._default_size, run_id)),
                endpoint_spec=docker.types.EndpointSpec(mode="dnsrr"),
                restart_policy=docker.types.RestartPolicy(condition="none"),
            )
        except ENGINE_ERRORS as exc:
            raise ContainerError(f"Swarm refused the pod {name}: {exc}") from exc
        try:
            return self._pod(service, network, run_id, purpose, on_wait)
        except ContainerError:
            service.remove()
            network.remove()
            raise

    def _pod(
        self,
        service: Any,
        network: Any,
        run_id: str,
        purpose: str,
        on_wait: Callable[[str], None] | None = None,
        timeout: float | None = None,
    ) -> SwarmPod:
        """The pod of ``service`` once its task runs (waiting up to ``timeout``, default the
        placement timeout). Raises ContainerError when it does not run or its node's engine
        does not answer."""
        placement = self._wait_placed(
            service, run_id, on_wait, self._placement_timeout if timeout is None else timeout
        )
        return self._pod_at(placement, service, network, run_id, purpose)

    def _pod_at(
        self, placement: Placement, service: Any, network: Any, run_id: str, purpose: str
    ) -> SwarmPod:
        """The pod whose owner runs at ``placement``. Raises ContainerError when its node's
        engine does not answer."""
        try:
            return SwarmPod(
                self._connect(placement.engine_url),
                placement,
                run_id,
                purpose,
                self._manager,
                service,
                network,
                self._images,
            )
        except ENGINE_ERRORS as exc:
            raise ContainerError(
                f"the owner of run {run_id} is not on node {placement.node} "
                f"({placement.engine_url}): {exc}"
            ) from exc

    def attach_pod(self, run_id: str, purpose: str) -> Pod | None:
        """The pod with its containers, when its owner runs now (no waiting); a
        :class:`LostPod` when the manager says its owner is gone (so the loss can be told);
        None when it has no owner, or its node's engine does not answer (yet)."""
        name = owner_name(run_id, purpose)
        try:
            service = self._manager.services.get(name)
            network = self._manager.networks.get(name)
            reason = owner_lost(self._manager, service, run_id)
        except docker.errors.NotFound:
            return None
        except ENGINE_ERRORS:  # the manager does not answer: unsure, not lost
            return None
        if reason is not None:
            return LostPod(run_id, purpose, reason, service, network)
        try:
            placement = self._wait_placed(service, run_id, None, 0.0)
        except ContainerError:
            return None
        if not self._answers(placement.engine_url):
            return None
        try:
            pod = self._pod_at(placement, service, network, run_id, purpose)
            pod.adopt_members()
        except ContainerError:
            return None
        except ENGINE_ERRORS:  # the node stopped answering in between
            return None
        return pod

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

    def _fitting(self, size: PodSize, run_id: str) -> PodSize:
        """``size``, cut down to the most CPUs and memory a ready node has: a pod larger than
        every node (a grading pod summing its containers' limits) reserves a whole node
        instead of waiting for ever. Logged when cut."""
        nodes = [
            node.attrs["Description"]["Resources"]
            for node in self._manager.nodes.list()
            if node.attrs["Status"]["State"] == "ready"
        ]
        if not nodes:
            return size
        fitted = PodSize(
            memory_bytes=min(size.memory_bytes, max(n["MemoryBytes"] for n in nodes)),
            cpus=min(size.cpus, max(n["NanoCPUs"] for n in nodes) / 1e9),
        )
        if (fitted.memory_bytes, fitted.cpus) != (size.memory_bytes, size.cpus):
            LOG.warning(
                "the pod of run %s asks for %.2f CPUs and %d MiB, more than any node has: it "
                "reserves %.2f CPUs and %d MiB",
                run_id,
                size.cpus,
                size.memory_bytes // 2**20,
                fitted.cpus,
                fitted.memory_bytes // 2**20,
            )
        return fitted

    def _wait_placed(
        self, service: Any, run_id: str, on_wait: Callable[[str], None] | None, timeout: float
    ) -> Placement:
        """Where the owner runs, once it does (looking at least once); ``on_wait`` gets
        Swarm's reason once while no node has room. Raises ContainerError when the task ends
        first or ``timeout`` passes."""
        deadline = time.monotonic() + timeout
        queued = False
        while True:
            tasks = service.tasks()
            if not tasks:
                try:
                    service.reload()
                except docker.errors.NotFound:
                    raise ContainerError(
                        f"the owner of run {run_id} was removed before Swarm placed it "
                        "(the run was cancelled or cleaned up)"
                    ) from None
            for task in tasks:
                status = task["Status"]
                if status["State"] == "running":
                    node = self._manager.nodes.get(task["NodeID"])
                    return Placement(
                        node=node.attrs["Description"]["Hostname"],
                        engine_url=node.attrs["Spec"]["Labels"][ENGINE_LABEL],
                        container_id=status["ContainerStatus"]["ContainerID"],
                    )
                if status["State"] in ENDED_TASK_STATES:
                    raise ContainerError(
                        f"the owner of run {run_id} ended {status['State']} before running: "
                        f"{status.get('Err') or status.get('Message')}"
                    )
                if status["State"] == "pending" and status.get("Err") and not queued:
                    queued = True
                    if on_wait is not None:
                        on_wait(status["Err"])
            if time.monotonic() >= deadline:
                raise ContainerError(
                    f"Swarm placed no owner for run {run_id} within {timeout:.0f} s"
                )
            time.sleep(POLL_S)


def owner_resources(size: PodSize) -> Any:
    """The owner task's resources: the whole pod's ``size`` reserved (what Swarm places by),
    the owner's own small limits enforced on it."""
    resources = docker.types.Resources(
        cpu_limit=int(POD_OWNER_LIMITS.cpus * 1e9),
        mem_limit=POD_OWNER_LIMITS.memory_bytes,
        cpu_reservation=int(size.cpus * 1e9),
        mem_reservation=size.memory_bytes,
    )
    resources["Limits"]["Pids"] = POD_OWNER_LIMITS.pids
    return resources
