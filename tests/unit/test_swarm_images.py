"""Images reach Swarm nodes through the cluster's registry: pushed from the runner's engine once
per content in a process, pulled on a node under the registry's name and tagged back to the
local one, which is all the rest of the code knows."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import docker.errors
import pytest

from prodproven.sandbox.errors import ImageError
from prodproven.sandbox.swarm_images import RegistryImages, split_name

PUSH, PULL = "127.0.0.1:5001", "registry:5000"
IMAGE = "prodproven/runtime:abc123"


class Image:
    def __init__(self, engine: Engine, image_id: str) -> None:
        self.engine, self.id = engine, image_id

    def tag(self, repository: str, tag: str) -> None:
        self.engine.calls.append(("tag", f"{repository}:{tag}"))
        self.engine.tags[f"{repository}:{tag}"] = self.id


class Engine:
    """The image calls of a Docker client: tags by name, every call recorded."""

    def __init__(self, tags: dict[str, str] | None = None) -> None:
        self.tags = dict(tags or {})
        self.calls: list[tuple[str, str]] = []
        self.push_events: list[dict[str, Any]] = [
            {"status": "Pushed", "id": "l1", "progressDetail": {}},
            {"status": "Pushing", "id": "l2", "progressDetail": {"current": 5, "total": 3_000_000}},
            {"status": "Pushed", "id": "l2", "progressDetail": {}},
            {"status": "Layer already exists", "id": "l3", "progressDetail": {}},
            {"status": "Mounted from prodproven/base", "id": "l4", "progressDetail": {}},
            {"aux": {"Tag": "abc123", "Digest": "sha256:d", "Size": 1}},
        ]
        self.images = self
        self.api = type("Api", (), {"base_url": "http://node-1:2375"})()

    def get(self, name: str) -> Image:
        if name not in self.tags:
            raise docker.errors.ImageNotFound(name)
        return Image(self, self.tags[name])

    def push(self, repository: str, tag: str, stream: bool, decode: bool) -> Iterator[Any]:
        self.calls.append(("push", f"{repository}:{tag}"))
        return iter(self.push_events)

    def pull(self, repository: str, tag: str) -> Image:
        self.calls.append(("pull", f"{repository}:{tag}"))
        self.tags[f"{repository}:{tag}"] = "sha256:pushed"
        return Image(self, "sha256:pushed")


@pytest.fixture
def local() -> Engine:
    return Engine({IMAGE: "sha256:pushed"})


def test_an_image_is_pushed_under_the_registry_push_name(local: Engine) -> None:
    done = RegistryImages(local, PUSH, PULL).push(IMAGE)
    assert local.calls == [("tag", f"{PUSH}/{IMAGE}"), ("push", f"{PUSH}/{IMAGE}")]
    assert done is not None
    assert (done.layers_pushed, done.layers_present, done.bytes_pushed) == (2, 2, 3_000_000)


def test_an_image_pushed_once_in_a_process_is_not_pushed_again_until_its_content_changes(
    local: Engine,
) -> None:
    images = RegistryImages(local, PUSH, PULL)
    images.push(IMAGE)
    assert images.push(IMAGE) is None
    local.tags[IMAGE] = "sha256:rebuilt"
    assert images.push(IMAGE) is not None
    assert [call for call in local.calls if call[0] == "push"] == [("push", f"{PUSH}/{IMAGE}")] * 2


def test_a_push_the_registry_refuses_is_an_image_error_and_is_tried_again_next_time(
    local: Engine,
) -> None:
    local.push_events = [{"error": "connection refused"}]
    images = RegistryImages(local, PUSH, PULL)
    with pytest.raises(ImageError, match=f"pushing {IMAGE} to {PUSH}/prodproven/runtime:abc123"):
        images.push(IMAGE)
    local.push_events = []
    assert images.push(IMAGE) is not None


def test_an_image_missing_on_the_runner_engine_says_how_to_build_it() -> None:
    with pytest.raises(ImageError, match="prodproven images build"):
        RegistryImages(Engine(), PUSH, PULL).push(IMAGE)


def test_a_node_pulls_from_the_registry_and_tags_the_image_back_to_its_local_name(
    local: Engine,
) -> None:
    node = Engine()
    RegistryImages(local, PUSH, PULL).put_on(node, IMAGE)
    assert node.calls == [("pull", f"{PULL}/{IMAGE}"), ("tag", IMAGE)]
    assert node.tags[IMAGE] == "sha256:pushed"


def test_a_node_holding_the_same_content_pulls_nothing_and_a_stale_one_pulls(
    local: Engine,
) -> None:
    images = RegistryImages(local, PUSH, PULL)
    same = Engine({IMAGE: "sha256:pushed"})
    images.put_on(same, IMAGE)
    assert same.calls == []
    stale = Engine({IMAGE: "sha256:older"})
    images.put_on(stale, IMAGE)
    assert ("pull", f"{PULL}/{IMAGE}") in stale.calls


def test_the_owner_image_is_named_for_the_nodes_by_the_pull_address() -> None:
    assert RegistryImages(Engine(), PUSH, PULL + "/").pull_name(IMAGE) == f"{PULL}/{IMAGE}"


@pytest.mark.parametrize(
    ("image", "parts"),
    [
        ("prodproven/runtime:abc", ("prodproven/runtime", "abc")),
        ("prodproven/runtime", ("prodproven/runtime", "latest")),
        ("localhost:5000/x", ("localhost:5000/x", "latest")),
        ("localhost:5000/x:v1", ("localhost:5000/x", "v1")),
    ],
)
def test_a_name_splits_into_repository_and_tag(image: str, parts: tuple[str, str]) -> None:
    assert split_name(image) == parts
