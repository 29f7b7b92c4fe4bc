"""Size-limited workspace volumes: each one an ext4 file system in a sparse image file, attached
to a loop device and mounted by the engine's ``local`` driver (``type=ext4,device=...``).

Docker's local driver has no size option on overlay2 and refuses ``o=loop``, but mounts a block
device. The device a volume is created with is a symlink next to its image (``NAME.dev`` ->
``/dev/loopN``): after a host reboot or a detach, attaching the image again and pointing the
link at the new device is enough, since the volume's options are fixed at creation. The link is
checked against ``losetup`` before every use, so a stale one never mounts another image.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import shutil
import subprocess
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import docker.errors

from prodproven.sandbox.environment import CANDIDATE_UID
from prodproven.sandbox.errors import ContainerError

LOG = logging.getLogger(__name__)
LIMITED_PATH = "/workspace"
"""Only volumes mounted here are limited: the candidate's files, in a run and at grading."""
TOOLS = ("losetup", "mkfs.ext4", "debugfs")
LOCAL_ENGINE = "http+docker://localhost"
"""The Docker SDK's base URL for an engine reached through its Unix socket on this machine."""
MIB = 2**20
FOLDER = "prodproven-volumes"

Tool = Callable[[Sequence[str]], str]
"""Runs a command and returns its output; raises ContainerError when it fails."""


def run_tool(argv: Sequence[str]) -> str:
    """``argv``'s standard output; a ContainerError naming the command and its error output."""
    try:
        done = subprocess.run(list(argv), capture_output=True, text=True, check=False, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ContainerError(f"{argv[0]} for a workspace volume failed: {exc}") from exc
    if done.returncode != 0:
        raise ContainerError(
            f"{' '.join(argv)} for a workspace volume failed ({done.returncode}): "
            f"{done.stderr.strip()[-500:]}"
        )
    return done.stdout


def unavailable_reason(
    engine_url: str, *, euid: int, which: Callable[[str], str | None] = shutil.which
) -> str | None:
    """Why this machine cannot give the engine at ``engine_url`` loop volumes; None if it can."""
    if engine_url != LOCAL_ENGINE:
        return f"the Docker engine ({engine_url}) is not on this machine's socket"
    if euid != 0:
        return "prodproven does not run as root, which loop devices need"
    missing = [tool for tool in TOOLS if which(tool) is None]
    if missing:
        return f"{', '.join(missing)} not found (install e2fsprogs and util-linux)"
    return None


_warned: set[str] = set()


def for_engine(client: Any, size_mb: int) -> LoopVolumes | None:
    """Loop volumes of ``size_mb`` MiB for ``client``'s engine, or None: when the size is 0 (no
    limit), or, with one warning per process, when this machine cannot make them.

    Their images live in the engine's own folder (``/var/lib/docker/prodproven-volumes``), on
    the disk the candidates' files were on before: a full data directory stays a matter of
    archives alone, and every installation using the engine shares one folder.
    """
    if size_mb <= 0:
        return None
    reason = unavailable_reason(str(client.api.base_url), euid=os.geteuid())
    if reason is None:
        loops = LoopVolumes(Path(client.info()["DockerRootDir"]) / FOLDER, size_mb)
        loops.forget_stale()
        return loops
    if reason not in _warned:
        _warned.add(reason)
        LOG.warning(
            "workspace volumes have no size limit (PRODPROVEN_WORKSPACE_MB=%d is ignored): %s",
            size_mb,
            reason,
        )
    return None


@dataclass
class LoopVolumes:
    """The image files, loop devices and device links of the limited volumes in ``folder``."""

    folder: Path
    size_mb: int
    tool: Tool = field(default=run_tool, repr=False)

    def image(self, name: str) -> Path:
        return self.folder / f"{name}.img"

    def link(self, name: str) -> Path:
        """The device path the engine mounts: a symlink to the image's loop device."""
        return self.folder / f"{name}.dev"

    def options(self, name: str) -> dict[str, str]:
        """The engine's driver options for a new volume ``name``, its image made and attached."""
        return {"type": "ext4", "device": str(self.attach(name))}

    def attach(self, name: str) -> Path:
        """``name``'s device link, pointing at the loop device its image is attached to; the
        image is made first when missing (an empty ext4 owned by the candidate)."""
        with self._locked():
            image = self.image(name)
            if not image.exists():
                self._make(image)
            device = self._devices(image)[:1] or [
                self.tool(["losetup", "--find", "--show", str(image)]).strip()
            ]
            link = self.link(name)
            if not link.is_symlink() or os.readlink(link) != device[0]:
                fresh = link.with_name(f"{link.name}.new")
                fresh.unlink(missing_ok=True)
                fresh.symlink_to(device[0])
                fresh.replace(link)
            return link

    def release(self, prefix: str) -> int:
        """Detach and delete the images (and links) of the volumes named ``prefix...``; how many.

        Called once the engine removed the volumes; a device still mounted is detached by the
        kernel when it is unmounted, and the file's space returns then.
        """
        names = self.names(prefix)
        with self._locked():
            for name in names:
                for device in self._devices(self.image(name)):
                    self.tool(["losetup", "--detach", device])
                self.image(name).unlink(missing_ok=True)
                self.link(name).unlink(missing_ok=True)
        return len(names)

    def attach_all(self, prefix: str) -> None:
        """Attach every image of the volumes named ``prefix...`` (a pod found again)."""
        for name in self.names(prefix):
            self.attach(name)

    def forget_stale(self) -> None:
        """Delete the device links that no longer lead to their own image (the devices went
        with a reboot), so that nothing mounts another image through one before ``attach``
        points it right again."""
        if not self.folder.is_dir():
            return
        with self._locked():
            listed = self.tool(
                ["losetup", "--list", "--noheadings", "--raw", "-O", "NAME,BACK-FILE"]
            )
            backing = dict(line.split(" ", 1) for line in listed.splitlines() if " " in line)
            for link in self.folder.glob("*.dev"):
                image = str(link.with_suffix(".img").resolve()).replace(" ", "\\x20")
                if backing.get(os.readlink(link)) != image:
                    link.unlink()

    def names(self, prefix: str = "") -> list[str]:
        """The volumes with an image here whose names start with ``prefix``."""
        return sorted(p.name.removesuffix(".img") for p in self.folder.glob(f"{prefix}*.img"))

    def run_ids(self) -> set[str]:
        """The runs with an image here (volume names are ``pp-RUN-PURPOSE-ROLE``)."""
        return {name.split("-")[1] for name in self.names("pp-")}

    def _devices(self, image: Path) -> list[str]:
        out = self.tool(["losetup", "--associated", str(image)])
        return [line.split(":", 1)[0] for line in out.splitlines() if line.strip()]

    def _make(self, image: Path) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        partial = image.with_name(f"{image.name}.partial")
        with partial.open("wb") as fh:
            fh.truncate(self.size_mb * MIB)  # sparse: blocks are taken as files are written
        owner = f"{CANDIDATE_UID}:{CANDIDATE_UID}"
        init = f"lazy_itable_init=1,lazy_journal_init=1,root_owner={owner}"
        # No blocks reserved for root: the candidate is not root, they would be lost to them.
        self.tool(["mkfs.ext4", "-q", "-m", "0", "-E", init, str(partial)])
        # lost+found (root's, unreadable) would show in the candidate's workspace and archive.
        self.tool(["debugfs", "-w", "-R", "rmdir lost+found", str(partial)])
        partial.replace(image)

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """One process at a time attaches or releases (``serve`` and a supervisor may both)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        with (self.folder / ".lock").open("a") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            yield


def ensure_volume(
    client: Any, loops: LoopVolumes | None, name: str, path: str, labels: Mapping[str, str]
) -> None:
    """Volume ``name`` for a container mounting it at ``path``: created when missing (limited
    when ``loops`` is set and ``path`` is LIMITED_PATH); an existing limited one is attached
    again first, since its loop device may be gone since (a reboot, a detach)."""
    loops = loops if path == LIMITED_PATH else None
    try:
        client.volumes.get(name)
    except docker.errors.NotFound:
        options = loops.options(name) if loops is not None else {}
        # Another container of the pod may create it meanwhile: then it exists, which is all.
        with contextlib.suppress(docker.errors.APIError):
            client.volumes.create(name, driver_opts=options, labels=dict(labels))
        return
    if loops is not None and loops.image(name).exists():
        loops.attach(name)
