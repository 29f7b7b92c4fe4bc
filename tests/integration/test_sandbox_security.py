"""The security profile of candidate containers, checked against the real engine.

Each test is one invariant of design.md: non-root, no capabilities, no new privileges,
limits in force, no Docker socket, no route out (not even to the host), and whatever is
published reachable on 127.0.0.1 only.
"""

from __future__ import annotations

import socket
import urllib.request
from collections.abc import Iterator

import pytest

from prodproven.runner.grading.evaluation import candidate_container
from prodproven.sandbox.docker_backend import DockerBackend
from prodproven.sandbox.environment import Limits, Pod, Sandbox
from tests.integration.conftest import HostListener, host_addresses

pytestmark = pytest.mark.docker

LIMITS = Limits(memory_bytes=256 * 2**20, cpus=0.5, pids=100)
CONNECT = r"""
import socket, sys
host, port = sys.argv[1], int(sys.argv[2])
try:
    socket.create_connection((host, port), timeout=3).close()
    print("connected")
except OSError as exc:
    print(f"refused: {exc}")
"""


@pytest.fixture
def pod(backend: DockerBackend, run_id: str) -> Iterator[Pod]:
    pod = backend.create_pod(run_id, "workspace")
    yield pod
    pod.remove()


@pytest.fixture
def box(pod: Pod, challenge_image: str, run_id: str) -> Sandbox:
    container = pod.add(
        candidate_container(
            "workspace",
            challenge_image,
            run_id,
            "workspace",
            LIMITS,
            command=["python3", "-m", "http.server", "8000", "--bind", "127.0.0.1"],
        )
    )
    container.start()
    pod.wait_http(8000, "/", timeout=30)
    return container


def sh(box: Sandbox, script: str) -> str:
    result = box.exec(["sh", "-c", script], timeout=30)
    return result.stdout + result.stderr


def test_candidate_runs_as_non_root(box: Sandbox) -> None:
    assert sh(box, "id -u").strip() == "1000"


def test_all_capabilities_are_dropped(box: Sandbox) -> None:
    status = sh(box, "grep -E '^Cap(Eff|Prm|Bnd):' /proc/self/status")
    assert all(line.split()[1] == "0000000000000000" for line in status.splitlines())


def test_no_new_privileges_is_set(box: Sandbox) -> None:
    assert "NoNewPrivs:\t1" in sh(box, "cat /proc/self/status")


def test_memory_cpu_and_pid_limits_are_in_force(box: Sandbox) -> None:
    assert sh(box, "cat /sys/fs/cgroup/memory/memory.limit_in_bytes").strip() == str(
        LIMITS.memory_bytes
    )
    quota = sh(
        box, "cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us /sys/fs/cgroup/cpu/cpu.cfs_period_us"
    ).split()
    assert int(quota[0]) / int(quota[1]) == pytest.approx(LIMITS.cpus)
    assert sh(box, "cat /sys/fs/cgroup/pids/pids.max").strip() == str(LIMITS.pids)


def test_root_filesystem_is_read_only(box: Sandbox) -> None:
    assert "Read-only file system" in sh(box, "touch /usr/evil")


def test_no_docker_socket_is_reachable(box: Sandbox) -> None:
    assert "No such file" in sh(box, "ls /var/run/docker.sock /run/docker.sock")


def test_only_loopback_exists(box: Sandbox) -> None:
    assert sh(box, "ls /sys/class/net").split() == ["lo"]


def test_a_non_loopback_address_cannot_be_opened(box: Sandbox, host_listener: HostListener) -> None:
    for address in host_addresses():
        out = sh(box, f"python3 -c '{CONNECT}' {address} {host_listener.port}")
        assert out.startswith("refused"), f"candidate reached the host at {address}: {out}"


def test_the_host_listener_is_reachable_from_the_host_itself(host_listener: HostListener) -> None:
    # Guards the test above: the listener really answers, so "refused" means isolation.
    for address in host_addresses():
        socket.create_connection((address, host_listener.port), timeout=3).close()


def test_two_pods_do_not_share_loopback(
    box: Sandbox, backend: DockerBackend, challenge_image: str
) -> None:
    other_id = box.name.split("-")[1] + "x"
    other = backend.create_pod(other_id, "workspace")
    try:
        peer = other.add(
            candidate_container(
                "workspace", challenge_image, other_id, "workspace", LIMITS, command=["sleep", "60"]
            )
        )
        peer.start()
        out = peer.exec(["python3", "-c", CONNECT, "127.0.0.1", "8000"], timeout=30).stdout
        assert out.startswith("refused")
    finally:
        backend.remove_run(other_id)


def test_published_port_answers_on_loopback_only(box: Sandbox, pod: Pod) -> None:
    published = pod.publish(8000)
    assert published.host == "127.0.0.1"
    with urllib.request.urlopen(published.url + "/", timeout=10) as response:
        assert response.status == 200
    for address in host_addresses():
        with pytest.raises(OSError):
            socket.create_connection((address, published.host_port), timeout=2).close()
