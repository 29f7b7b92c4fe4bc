"""Images carried from the runner's engine to a Swarm cluster's nodes through its registry.

The runner builds images on its own engine under local names (``prodproven/runtime:<hash>``).
Before a node needs one, it is pushed as ``<push address>/<name>:<tag>`` (once per image
content in this process; the registry keeps layers it has, so a push of an unchanged image
only checks them; that second name stays on the runner's engine, since other processes may
push the same image at the same time); the node pulls ``<pull address>/<name>:<tag>`` and
tags it back to the local name, so every other piece of code keeps the local names. Nodes
reach no other registry.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

import docker.errors

from prodproven.sandbox.docker_backend import ENGINE_ERRORS
from prodproven.sandbox.errors import ImageError

LOG = logging.getLogger(__name__)


@dataclass(frozen=True)
class Push:
    """What pushing one image to the registry took."""

    image: str
    seconds: float
    layers_pushed: int
    layers_present: int
    """Layers the registry already had (checked, not sent)."""
    bytes_pushed: int


def split_name(image: str) -> tuple[str, str]:
    """``name:tag`` as (name, tag); a name without a tag is ``latest``."""
    name, sep, tag = image.rpartition(":")
    if not sep or "/" in tag:
        return image, "latest"
    return name, tag


class RegistryImages:
    """Pushes from ``local`` (the runner's engine) to the registry at ``push_address`` and
    pulls on nodes from ``pull_address`` (the same registry as the nodes see it)."""

    def __init__(self, local: Any, push_address: str, pull_address: str) -> None:
        self._local = local
        self._push_address = push_address.rstrip("/")
        self._pull_address = pull_address.rstrip("/")
        self._pushed: dict[str, str] = {}
        """Image id by local name, for what this process pushed."""
        self._lock = threading.Lock()

    def pull_name(self, image: str) -> str:
        """``image`` as the nodes pull it from the registry."""
        name, tag = split_name(image)
        return f"{self._pull_address}/{name}:{tag}"

    def push(self, image: str) -> Push | None:
        """Push ``image`` unless this process pushed the same content under that name; returns
        what the push took (None when skipped). Raises ImageError naming the image and the
        registry when the image is missing or the push fails."""
        with self._lock:
            image_id = self._local_id(image)
            if self._pushed.get(image) == image_id:
                return None
            done = self._push(image)
            self._pushed[image] = image_id
        LOG.info(
            "pushed %s to %s in %.1f s (%d layers sent, %.1f MB; %d already there)",
            image,
            self._push_address,
            done.seconds,
            done.layers_pushed,
            done.bytes_pushed / 1e6,
            done.layers_present,
        )
        return done

    def put_on(self, node: Any, image: str) -> None:
        """Make ``image`` (a local name) present on ``node``'s engine under that name: pushed
        if needed, pulled from the registry and tagged back. Nothing when the node has the
        same content already. Raises ImageError."""
        self.push(image)
        name, tag = split_name(image)
        try:
            if node.images.get(image).id == self._pushed[image]:
                return
        except docker.errors.ImageNotFound:
            pass
        except ENGINE_ERRORS as exc:
            raise ImageError(
                f"cannot look up {image} on node engine {node.api.base_url}: {exc}"
            ) from exc
        source = self.pull_name(image)
        started = time.monotonic()
        try:
            pulled = node.images.pull(source.rpartition(":")[0], tag=tag)
            pulled.tag(name, tag)
        except ENGINE_ERRORS as exc:
            raise ImageError(
                f"node engine {node.api.base_url} cannot pull {source} for {image}: {exc}"
            ) from exc
        LOG.info(
            "node %s pulled %s in %.1f s", node.api.base_url, source, time.monotonic() - started
        )

    def _local_id(self, image: str) -> str:
        try:
            return str(self._local.images.get(image).id)
        except docker.errors.ImageNotFound as exc:
            raise ImageError(
                f"image {image} is missing on the runner's engine; build it with "
                "`prodproven images build`"
            ) from exc

    def _push(self, image: str) -> Push:
        name, tag = split_name(image)
        target = f"{self._push_address}/{name}"
        started = time.monotonic()
        sizes: dict[str, int] = {}
        sent: set[str] = set()
        present: set[str] = set()
        try:
            # The registry's name stays on the image: another process may be pushing it too.
            self._local.images.get(image).tag(target, tag)
            for event in self._local.images.push(target, tag=tag, stream=True, decode=True):
                if "error" in event:
                    raise ImageError(f"pushing {image} to {target}:{tag} failed: {event['error']}")
                layer, status = event.get("id", ""), str(event.get("status", ""))
                if status == "Pushed":
                    sent.add(layer)
                elif status == "Layer already exists" or status.startswith("Mounted from"):
                    present.add(layer)
                total = event.get("progressDetail", {}).get("total")
                if total:
                    sizes[layer] = max(sizes.get(layer, 0), int(total))
        except ENGINE_ERRORS as exc:
            raise ImageError(f"pushing {image} to {target}:{tag} failed: {exc}") from exc
        return Push(
            image=image,
            seconds=time.monotonic() - started,
            layers_pushed=len(sent),
            layers_present=len(present),
            bytes_pushed=sum(sizes.get(layer, 0) for layer in sent),
        )
