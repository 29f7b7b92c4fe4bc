"""Fixtures against the real Docker engine: images are built once (reused when unchanged),
every test gets its own run id and removes what it created."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from runner.config import Settings
from runner.lifecycle import Runner
from runner.plugins import plugin_manager
from runner.store import Store
from sandbox.docker_backend import DockerBackend, connect
from sandbox.images import ImageBuilder
from tests.conftest import BUILTIN

pytestmark = pytest.mark.docker


@pytest.fixture(scope="session")
def docker_client() -> Any:
    return connect()


@pytest.fixture(scope="session")
def images(docker_client, tmp_path_factory) -> ImageBuilder:
    settings = Settings.from_env(data_dir=tmp_path_factory.mktemp("images"))
    return ImageBuilder(docker_client, settings.images())


@pytest.fixture(scope="session")
def runtime_image(images) -> str:
    return images.runtime()


@pytest.fixture(scope="session")
def challenge_image(images) -> str:
    return images.recipe("challenge-deploy-model", BUILTIN / "deploy-model" / "image")


@pytest.fixture
def backend(docker_client, runtime_image) -> DockerBackend:
    return DockerBackend(docker_client, runtime_image)


@pytest.fixture
def run_id(backend) -> Iterator[str]:
    rid = "t" + secrets.token_hex(4)
    yield rid
    backend.remove_run(rid)


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("data")


@pytest.fixture
def runner(docker_client, images, runtime_image, data_dir) -> Runner:
    settings = Settings.from_env(data_dir=data_dir)
    backend = plugin_manager().hook.sandbox_backend(settings=settings, pod_image=runtime_image)
    return Runner(settings, Store(settings.store_url), backend, images)
