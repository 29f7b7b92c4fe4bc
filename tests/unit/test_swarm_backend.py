"""The Swarm backend's own decisions, against a fake manager: a pod's owner reserves the pod's
size (the backend's default without one) and runs the pod image from the registry; a pod
waiting for room reports Swarm's reason once; a pod attached again has its containers; a pod
is lost only when Swarm says so, never on a manager that does not answer; a misconfigured
swarm is one error naming the setting."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

import docker.errors
import pytest
import requests

from prodproven.sandbox import builtin
from prodproven.sandbox.docker_backend import POD_OWNER_LIMITS, PURPOSE_LABEL, ROLE_LABEL
from prodproven.sandbox.environment import RUN_LABEL, ContainerSpec, Limits, PodSize
from prodproven.sandbox.errors import ContainerError, DockerUnavailable
from prodproven.sandbox.swarm_backend import (
    DEFAULT_POD_SIZE,
    ENGINE_LABEL,
    SwarmBackend,
    SwarmPod,
    owner_resources,
)
from prodproven.sandbox.swarm_images import RegistryImages

NODE_URL = "tcp://node-2:2375"


@dataclass(frozen=True)
class Need(PodSize):
    """A caller's own kind of size (the runner's is a subclass too)."""


NO_ROOM = "no suitable node (insufficient resources on 3 nodes)"
RUNNING = {"State": "running", "ContainerStatus": {"ContainerID": "owner-1"}}


def task(state: str = "running", desired: str = "running", **status: str) -> dict[str, Any]:
    extra = RUNNING if state == "running" else {"State": state}
    return {"NodeID": "n2", "DesiredState": desired, "Status": {**extra, **status}}


class Service:
    """A service whose tasks() answers the next of ``states`` each call (the last one stays)."""

    def __init__(self, states: list[list[dict[str, Any]]]) -> None:
        self.states, self.removed = states, False

    def tasks(self) -> list[dict[str, Any]]:
        return self.states.pop(0) if len(self.states) > 1 else self.states[0]

    def remove(self) -> None:
        self.removed = True

    def reload(self) -> None:
        if self.removed:
            raise docker.errors.NotFound("service not found")


class Node:
    def __init__(self, state: str = "ready", cpus: float = 2.0, memory: int = 2**32) -> None:
        resources = {"NanoCPUs": int(cpus * 1e9), "MemoryBytes": memory}
        self.attrs = {
            "Description": {"Hostname": "pp-cluster-node-2", "Resources": resources},
            "Status": {"State": state},
            "Spec": {"Labels": {ENGINE_LABEL: NODE_URL}},
        }


class Container:
    def __init__(self, container_id: str, role: str) -> None:
        self.id, self.name = container_id, f"pp-r1-workspace-{role}"
        self.labels = {RUN_LABEL: "r1", PURPOSE_LABEL: "workspace", ROLE_LABEL: role}


class Manager:
    """What the backend asks of a Swarm manager and of a node's engine."""

    def __init__(self, service: Service, node: Node | None = None) -> None:
        self.service, self.node = service, node or Node()
        self.created: dict[str, Any] = {}
        self.member: dict[str, Any] = {}
        self.services, self.containers = self, self
        self.nodes = Nodes(self)
        self.networks = Networks()
        self.down = False
        self.members = [Container("owner-1", "pod"), Container("ws-1", "workspace")]

    def create(self, *args: Any, **kwargs: Any) -> Any:
        if "network_mode" in kwargs:  # a member, on the node's engine
            self.member = {"image": args[0], **kwargs}
            return Container("member-1", "workspace")
        self.created = {"image": args[0], **kwargs}
        return self.service

    def get(self, key: str) -> Any:
        if self.down:
            raise requests.exceptions.ConnectionError("manager: connection refused")
        if key == "owner-1":
            return self.members[0]
        return self.service

    def list(self, all: bool, filters: dict[str, Any]) -> list[Container]:
        return self.members


class Nodes:
    """The manager's node list: node 2 as the test sets it, and a larger node 1, ready."""

    def __init__(self, manager: Manager) -> None:
        self.manager = manager

    def get(self, node_id: str) -> Node:
        if self.manager.down:
            raise requests.exceptions.ConnectionError("manager: connection refused")
        return self.manager.node

    def list(self) -> list[Node]:
        return [self.manager.node, Node(cpus=4.0, memory=2**33)]


class Network:
    id = name = "pp-r1-workspace-pod"

    def remove(self) -> None:
        pass

    def reload(self) -> None:  # removed: the manager has let it go
        raise docker.errors.NotFound("network not found")


class Networks:
    def create(self, name: str, **kwargs: Any) -> Network:
        return Network()

    def get(self, name: str) -> Network:
        return Network()


class Images:
    """The registry side, recorded: what was pushed and put on which node."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []

    def push(self, image: str) -> None:
        self.calls.append(("push", image))

    def pull_name(self, image: str) -> str:
        return f"registry:5000/{image}"

    def put_on(self, node: Any, image: str) -> None:
        self.calls.append(("put_on", image))


def backend(
    manager: Manager, images: Images | None = None, *, dead: bool = False, **kwargs: Any
) -> SwarmBackend:
    """A backend on ``manager``, whose nodes' engines answer unless ``dead``."""
    fake = cast(RegistryImages, images or Images())
    return SwarmBackend(
        manager,
        fake,
        "prodproven/runtime:1",
        connect=lambda url: manager,
        answers=lambda url: not dead,
        **kwargs,
    )


def test_the_owner_reserves_the_whole_pod_and_is_limited_to_its_own_needs() -> None:
    resources = owner_resources(PodSize(memory_bytes=768 * 2**20, cpus=0.5))
    assert resources["Reservations"] == {"NanoCPUs": 500_000_000, "MemoryBytes": 768 * 2**20}
    assert resources["Limits"] == {
        "NanoCPUs": int(POD_OWNER_LIMITS.cpus * 1e9),
        "MemoryBytes": POD_OWNER_LIMITS.memory_bytes,
        "Pids": POD_OWNER_LIMITS.pids,
    }


@pytest.mark.parametrize(
    ("size", "reserved"),
    [(Need(memory_bytes=2**29, cpus=1.5), PodSize(2**29, 1.5)), (None, DEFAULT_POD_SIZE)],
)
def test_a_pod_reserves_its_size_or_the_backend_default(
    size: PodSize | None, reserved: PodSize, caplog: pytest.LogCaptureFixture
) -> None:
    manager = Manager(Service([[task()]]))
    backend(manager).create_pod("r1", "workspace", size=size)
    assert manager.created["resources"]["Reservations"] == {
        "NanoCPUs": int(reserved.cpus * 1e9),
        "MemoryBytes": reserved.memory_bytes,
    }
    assert "more than any node has" not in caplog.text


def test_a_pod_larger_than_every_node_reserves_the_largest_node_whole(
    caplog: pytest.LogCaptureFixture,
) -> None:
    manager = Manager(Service([[task()]]))
    backend(manager).create_pod("r1", "evaluation", size=PodSize(2**34, 3.0))
    assert manager.created["resources"]["Reservations"] == {
        "NanoCPUs": 3_000_000_000,
        "MemoryBytes": 2**33,
    }
    assert "asks for 3.00 CPUs and 16384 MiB, more than any node has" in caplog.text


def test_the_pod_image_is_pushed_first_and_the_owner_runs_it_from_the_registry() -> None:
    manager, images = Manager(Service([[task()]])), Images()
    pod = backend(manager, images).create_pod("r1", "workspace", hosts=["mlflow"])
    assert images.calls == [("push", "prodproven/runtime:1")]
    assert manager.created["image"] == "registry:5000/prodproven/runtime:1"
    assert manager.created["hosts"] == {"mlflow": "127.0.0.1"}
    assert (pod.node, pod.run_id) == ("pp-cluster-node-2", "r1")


def test_a_pod_waiting_for_room_reports_swarms_reason_once_then_is_placed() -> None:
    pending = [task("pending", Err=NO_ROOM)]
    manager = Manager(Service([pending, pending, pending, [task()]]))
    waits: list[str] = []
    backend(manager).create_pod("r1", "workspace", on_wait=waits.append)
    assert waits == [NO_ROOM]


def test_a_pod_removed_while_it_waits_for_room_stops_waiting() -> None:
    service = Service([[task("pending", Err=NO_ROOM)], []])  # then cancelled: no task left

    def cancelled(_reason: str) -> None:
        service.remove()

    with pytest.raises(ContainerError, match="removed before Swarm placed it"):
        backend(Manager(service)).create_pod("r1", "workspace", on_wait=cancelled)


def test_an_owner_that_ends_before_running_is_an_error_and_is_removed() -> None:
    service = Service([[task("rejected", Err="No such image: registry:5000/x")]])
    with pytest.raises(ContainerError, match="ended rejected before running: No such image"):
        backend(Manager(service)).create_pod("r1", "workspace")
    assert service.removed


def test_a_pod_swarm_cannot_place_in_time_is_an_error() -> None:
    service = Service([[task("pending")]])
    with pytest.raises(ContainerError, match="Swarm placed no owner for run r1 within 0 s"):
        backend(Manager(service), placement_timeout=0.0).create_pod("r1", "workspace")


def test_a_member_image_is_put_on_the_node_and_the_container_made_under_its_local_name() -> None:
    manager, images = Manager(Service([[task()]])), Images()
    pod = backend(manager, images).create_pod("r1", "workspace")
    image = "prodproven/challenge-x:2"
    pod.add(ContainerSpec(role="workspace", image=image, limits=Limits(2**27, 0.5, 64)))
    assert images.calls[-1] == ("put_on", image)
    assert manager.member["image"] == image
    assert manager.member["network_mode"] == "container:owner-1"


def test_a_pod_attached_again_has_its_containers_and_a_pending_one_is_none() -> None:
    pod = backend(Manager(Service([[task()]]))).attach_pod("r1", "workspace")
    assert pod is not None
    assert [box.role for box in pod.containers()] == ["workspace"]
    pending = Manager(Service([[task("pending", Err=NO_ROOM)]]))
    assert backend(pending).attach_pod("r1", "workspace") is None


def test_a_pod_whose_node_is_down_attaches_as_lost_without_its_engine() -> None:
    manager = Manager(Service([[task()]]), Node(state="down"))
    pod = backend(manager, dead=True).attach_pod("r1", "workspace")
    assert pod is not None and pod.lost() == "node pp-cluster-node-2 of run r1 is down"
    assert pod.containers() == []
    with pytest.raises(ContainerError, match="is down"):
        pod.wait_port(8000, timeout=1)
    pod.remove()
    assert manager.service.removed


def test_a_pod_whose_node_swarm_still_calls_ready_but_does_not_answer_is_not_attached() -> None:
    # Died a moment ago: Swarm marks the node down some seconds later, then it attaches as lost.
    assert backend(Manager(Service([[task()]])), dead=True).attach_pod("r1", "workspace") is None


def placed(manager: Manager) -> SwarmPod:
    return backend(manager).create_pod("r1", "workspace")


@pytest.mark.parametrize(
    ("node_state", "later", "reason"),
    [
        ("ready", [task()], None),
        ("down", [task(desired="shutdown")], "node pp-cluster-node-2 of run r1 is down"),
        ("disconnected", [task()], "node pp-cluster-node-2 of run r1 is disconnected"),
        ("unknown", [task()], None),
        (
            "ready",
            [task("failed", Err="task: non-zero exit (255)")],
            "the owner of run r1 on node pp-cluster-node-2 ended failed: task: non-zero exit (255)",
        ),
        (
            "ready",
            [task(desired="shutdown")],
            "Swarm shut down the owner of run r1 on node pp-cluster-node-2",
        ),
        ("ready", [], "the owner task of run r1 is gone"),
    ],
)
def test_a_pod_is_lost_only_when_swarm_says_so(
    node_state: str, later: list[dict[str, Any]], reason: str | None
) -> None:
    manager = Manager(Service([[task()], later]))
    pod = placed(manager)
    manager.node = Node(node_state)
    assert pod.lost() == reason


def test_a_manager_that_does_not_answer_is_not_a_reason_to_lose_a_pod(
    caplog: pytest.LogCaptureFixture,
) -> None:
    manager = Manager(Service([[task()]]))
    pod = placed(manager)
    manager.down = True
    assert pod.lost() is None
    assert "cannot tell whether the pod of run r1 on node pp-cluster-node-2 is lost" in caplog.text


@dataclass(frozen=True)
class Settings:
    backend: str = "swarm"
    swarm_manager: str = "tcp://manager:2375"
    swarm_registry: str = "127.0.0.1:5001"
    swarm_registry_pull: str = ""
    workspace_mb: int = 0


class Engine:
    def __init__(self, info: dict[str, Any] | Exception) -> None:
        self._info = info
        self.images = Images()

    def info(self) -> dict[str, Any]:
        if isinstance(self._info, Exception):
            raise self._info
        return self._info


MANAGER_INFO = {"Swarm": {"LocalNodeState": "active", "ControlAvailable": True}}


def from_settings(settings: Settings, info: dict[str, Any] | Exception) -> SwarmBackend:
    return SwarmBackend.from_settings(
        settings, "prodproven/runtime:1", connect=lambda url: Engine(info), local=lambda: None
    )


@pytest.mark.parametrize(
    ("settings", "info", "message"),
    [
        (Settings(swarm_manager=""), MANAGER_INFO, "setting PRODPROVEN_SWARM_MANAGER is empty"),
        (Settings(swarm_registry=""), MANAGER_INFO, "setting PRODPROVEN_SWARM_REGISTRY is empty"),
        (
            Settings(),
            docker.errors.DockerException("Connection refused"),
            "setting PRODPROVEN_SWARM_MANAGER='tcp://manager:2375': the engine does not answer "
            r"\(DockerException: Connection refused\)",
        ),
        (
            Settings(),
            {"Swarm": {"LocalNodeState": "active", "ControlAvailable": False}},
            "PRODPROVEN_SWARM_MANAGER='tcp://manager:2375': that engine is not a Swarm manager "
            r"\(its swarm state: active\)",
        ),
        (Settings(), {"Swarm": {"LocalNodeState": "inactive"}}, "swarm state: inactive"),
    ],
)
def test_a_misconfigured_swarm_is_one_error_naming_the_setting(
    settings: Settings, info: dict[str, Any] | Exception, message: str
) -> None:
    with pytest.raises(DockerUnavailable, match=message):
        from_settings(settings, info)


def test_the_nodes_pull_from_the_push_address_unless_told_otherwise() -> None:
    pushed_to = from_settings(Settings(), MANAGER_INFO)
    assert pushed_to._images.pull_name("x:1") == "127.0.0.1:5001/x:1"
    pulled_from = from_settings(Settings(swarm_registry_pull="registry:5000"), MANAGER_INFO)
    assert pulled_from._images.pull_name("x:1") == "registry:5000/x:1"


def test_the_swarm_hook_answers_only_when_the_settings_say_swarm() -> None:
    assert builtin.swarm_backend(Settings(backend="docker"), "prodproven/runtime:1") is None
    with pytest.raises(DockerUnavailable, match="PRODPROVEN_SWARM_MANAGER is empty"):
        builtin.swarm_backend(Settings(swarm_manager=""), "prodproven/runtime:1")
