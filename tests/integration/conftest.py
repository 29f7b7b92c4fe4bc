"""Fixtures against the real Docker engine: images are built once (reused when unchanged),
every test gets its own run id and removes what it created."""

from __future__ import annotations

import contextlib
import secrets
import socket
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from prodproven.runner.config import Settings
from prodproven.runner.lifecycle.core import Runner
from prodproven.runner.plugins import catalog, graders, plugin_manager
from prodproven.runner.runs.store import Store
from prodproven.sandbox.docker_backend import DockerBackend, connect
from prodproven.sandbox.images import ImageBuilder
from tests.conftest import BUILTIN
from tests.integration.swarm_cluster import Cluster, shared_cluster

pytestmark = pytest.mark.docker


@pytest.fixture(scope="session")
def cluster() -> Iterator[Cluster]:
    """The local Swarm cluster (``swarm_cluster.py``), shared with other test processes."""
    yield from shared_cluster()


@pytest.fixture(scope="session")
def docker_client() -> Any:
    return connect()


@pytest.fixture(scope="session")
def images(docker_client: Any, tmp_path_factory: pytest.TempPathFactory) -> ImageBuilder:
    settings = Settings.from_env(data_dir=tmp_path_factory.mktemp("images"))
    return ImageBuilder(docker_client, settings.images())


@pytest.fixture(scope="session")
def runtime_image(images: ImageBuilder) -> str:
    return images.runtime()


@pytest.fixture(scope="session")
def challenge_image(images: ImageBuilder) -> str:
    return images.recipe(
        "challenge-deploy-model", BUILTIN / "deploy-model" / "image", parent=images.lab()
    )


@pytest.fixture
def backend(docker_client: Any, runtime_image: str) -> DockerBackend:
    return DockerBackend(docker_client, runtime_image)


@pytest.fixture
def run_id(backend: DockerBackend) -> Iterator[str]:
    rid = "t" + secrets.token_hex(4)
    yield rid
    backend.remove_run(rid)


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("data")


@pytest.fixture
def runner(images: ImageBuilder, runtime_image: str, data_dir: Path) -> Runner:
    return runner_for(Settings.from_env(data_dir=data_dir), images, runtime_image)


def runner_for(settings: Settings, images: ImageBuilder, runtime_image: str) -> Runner:
    """A Runner over the store of ``settings``, with the installed sandbox backend."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    backend = plugin_manager().hook.sandbox_backend(settings=settings, pod_image=runtime_image)
    return Runner(settings, Store(settings.store_url), backend, images, catalog(), graders())


def host_addresses() -> list[str]:
    """This machine's own non-loopback IPv4 addresses (docker0's gateway among them).

    Fails rather than returning nothing: an empty list would make the isolation tests vacuous.
    """
    out = subprocess.run(["ip", "-4", "-o", "addr"], capture_output=True, text=True, check=True)
    addresses = sorted(
        {
            fields[3].split("/")[0]
            for fields in (line.split() for line in out.stdout.splitlines())
            if not fields[3].startswith("127.")
        }
    )
    assert addresses, "found no non-loopback address on this machine to test isolation against"
    return addresses


@dataclass
class HostListener:
    """A listener on the host bound to 0.0.0.0, as a careless host service would be."""

    port: int
    accepted: list[str] = field(default_factory=list)


@contextlib.contextmanager
def listening() -> Iterator[HostListener]:
    server = socket.create_server(("0.0.0.0", 0))
    listener = HostListener(server.getsockname()[1])
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            with contextlib.suppress(OSError):
                conn, peer = server.accept()
                listener.accepted.append(peer[0])
                conn.close()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield listener
    finally:
        stop.set()
        thread.join()
        server.close()


@pytest.fixture
def host_listener() -> Iterator[HostListener]:
    with listening() as listener:
        yield listener
