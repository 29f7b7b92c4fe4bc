"""A Swarm pod's owner as the manager sees it: whether it is lost, removing it, and the pod
that stands for it once lost (``swarm_backend.py``).

What the manager says is the truth about a pod on a cluster: a node's engine that stopped
answering may be a node that died (Swarm marks it ``down`` some 13 s later) or a slow one, so
a pod is lost only when the manager says its node is gone or its task ended.
"""

from __future__ import annotations

import socket
import time
from typing import Any
from urllib.parse import urlsplit

import docker.errors

from prodproven.sandbox.environment import ContainerSpec, Pod, PublishedPort, Sandbox
from prodproven.sandbox.errors import ContainerError

POLL_S = 0.5
NETWORK_REMOVAL_WAIT_S = 30.0
LOST_NODE_STATES = ("down", "disconnected")
"""Node states that mean the node is gone (``unknown``, seen while a manager restarts, is not)."""
ENDED_TASK_STATES = ("complete", "failed", "shutdown", "rejected", "orphaned", "remove")
ENGINE_PROBE_S = 3.0
"""How long a node's engine may take to accept a connection before a pod is not attached."""


def owner_lost(manager: Any, service: Any, run_id: str) -> str | None:
    """Why the owner ``service`` of ``run_id``'s pod is gone: its node is down or
    disconnected, its task ended, or Swarm shut it down without the runner asking; None while
    it runs. Raises what the manager's client raises."""
    tasks = service.tasks()
    if not tasks:
        return f"the owner task of run {run_id} is gone"
    task = tasks[0]
    node = manager.nodes.get(task["NodeID"])
    hostname = node.attrs["Description"]["Hostname"]
    node_state = node.attrs["Status"]["State"]
    if node_state in LOST_NODE_STATES:
        return f"node {hostname} of run {run_id} is {node_state}"
    status = task["Status"]
    if status["State"] in ENDED_TASK_STATES:
        return (
            f"the owner of run {run_id} on node {hostname} ended {status['State']}: "
            f"{status.get('Err') or status.get('Message')}"
        )
    if task["DesiredState"] != "running":
        return f"Swarm shut down the owner of run {run_id} on node {hostname}"
    return None


def remove_owner(service: Any, network: Any, run_id: str) -> None:
    """Remove the owner's service and the run's network, and wait (up to
    NETWORK_REMOVAL_WAIT_S) until the manager has let the network go: Swarm removes it after
    the request returns. Raises ContainerError when the manager refuses."""
    for obj in (service, network):
        try:
            obj.remove()
        except docker.errors.NotFound:
            pass
        except docker.errors.APIError as exc:
            raise ContainerError(f"cannot remove {obj.name} of run {run_id}: {exc}") from exc
    deadline = time.monotonic() + NETWORK_REMOVAL_WAIT_S
    while time.monotonic() < deadline:
        try:
            network.reload()
        except docker.errors.NotFound:
            return
        time.sleep(POLL_S)


def engine_answers(url: str, timeout: float = ENGINE_PROBE_S) -> bool:
    """Whether the engine at ``url`` (``tcp://host:port``) accepts a connection in time: a
    dead node's address takes a client's whole timeout (minutes) to fail otherwise."""
    parts = urlsplit(url)
    if parts.hostname is None or parts.port is None:
        return True  # not a TCP address: the client will say what is wrong
    try:
        with socket.create_connection((parts.hostname, parts.port), timeout=timeout):
            return True
    except OSError:
        return False


class LostPod(Pod):
    """The pod of a run whose owner the manager reports gone: nothing in it can be reached
    (each use raises ContainerError with the reason), :meth:`lost` says why, and
    :meth:`remove` removes the owner and the network (the containers on a dead node are
    ``gc``'s once it is back)."""

    def __init__(self, run_id: str, purpose: str, reason: str, service: Any, network: Any):
        self.run_id, self.purpose = run_id, purpose
        self._reason, self._service, self._network = reason, service, network

    def add(self, spec: ContainerSpec) -> Sandbox:
        raise ContainerError(self._reason)

    def containers(self) -> list[Sandbox]:
        return []

    def wait_http(self, port: int, path: str, *, timeout: float) -> float:
        raise ContainerError(self._reason)

    def wait_port(self, port: int, *, timeout: float) -> float:
        raise ContainerError(self._reason)

    def publish(self, port: int) -> PublishedPort:
        raise ContainerError(self._reason)

    def lost(self) -> str | None:
        return self._reason

    def remove(self) -> None:
        remove_owner(self._service, self._network, self.run_id)
