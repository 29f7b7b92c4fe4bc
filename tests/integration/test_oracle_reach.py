"""The validator's answer server is a real adversary: it listens on every address a leaky
container could try, and a container outside the sandbox does reach it. So when the network
cheat records no visit, that is the sandbox's isolation at work, not a server out of reach."""

from __future__ import annotations

from typing import Any

import pytest

from prodproven.runner.gate import oracle
from tests.integration.conftest import host_addresses

pytestmark = pytest.mark.docker


def test_the_oracle_covers_every_address_of_this_machine() -> None:
    assert set(oracle.local_addresses()) == set(host_addresses())


def test_a_container_outside_the_sandbox_reaches_the_oracle(
    docker_client: Any, runtime_image: str
) -> None:
    with oracle.serving({"files": {"a.json": [1]}}) as served:
        address = served.address("network")
        url = f"http://{address.hosts[0]}:{address.port}/key?token={address.token}"
        fetch = f"import urllib.request; print(urllib.request.urlopen({url!r}, timeout=5).read())"
        output = docker_client.containers.run(
            runtime_image, ["python3", "-c", fetch], remove=True, network_mode="bridge"
        )
        assert b'{"files": {"a.json": [1]}}' in output
        assert [hit["path"] for hit in served.hits_of("network")] == ["/key"]
