"""Images: the base (a registry image or an offline Debian bootstrap), the runtime layer
every container starts from, the workspace-tools layer (JupyterLab) challenge images start
from, and images built from recipes with a host-side wheelhouse.

Tags are content hashes of the recipe's files (their names inside the recipe and their bytes,
not where the recipe lies) and its parent image, so an unchanged recipe is never rebuilt and a
changed one always is. The built-in recipes are package data (``RECIPES``). Builds run with
``--network none``: packages come only from wheels downloaded on the host (containers here
cannot reach a package index), and Debian packages only from ``.deb`` files fetched on the
host (``debs.txt``).
"""

from __future__ import annotations

import hashlib
import platform
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import docker.errors

from prodproven.sandbox.errors import CommandTimeout, ImageError

OFFLINE_BASE = "prodproven/base:bookworm"
RUNTIME_REPO = "prodproven/runtime"
PYTHON_LABEL = "prodproven.python"
Log = Callable[[str], None]
RECIPES = Path(str(resources.files(__name__)))
"""The built-in image recipes, one folder each beside this module: ``base`` (the offline
bootstrap), ``runtime``, ``lab``, ``grader`` and the service images (``mlflow``)."""
BOOTSTRAP_TIMEOUT_S = 1200.0
"""Longest a debootstrap of the offline base may take (about a minute on a near mirror)."""
TAR_TIMEOUT_S = 300.0
"""Longest packing the bootstrapped root filesystem may take."""
DOWNLOAD_TIMEOUT_S = 1200.0
"""Longest a ``pip download`` of one recipe's wheels (or its ``apt-get download``) may take."""
DEBS_FILE = "debs.txt"
"""A recipe's Debian packages, fetched on the host into the build context's ``debs/``."""


def default_debian_mirror(sources: Path = Path("/etc/apt/sources.list.d/debian.sources")) -> str:
    """The Debian mirror apt is configured with, else the public one."""
    candidates = [sources, Path("/etc/apt/sources.list")]
    for path in candidates:
        if path.is_file():
            match = re.search(r"^(?:URIs:\s*|deb\s+)(\S+/debian)\s*$", path.read_text(), re.M)
            if match:
                return match.group(1)
    return "http://deb.debian.org/debian"


@dataclass(frozen=True)
class ImageSettings:
    base_image: str
    debian_mirror: str


class ImageBuilder:
    """Builds and finds images; every method logs what it does through ``log``."""

    def __init__(self, client: Any, settings: ImageSettings, log: Log = lambda _: None) -> None:
        self._client = client
        self._settings = settings
        self._log = log
        self._base: str | None = None

    def base(self) -> str:
        """The base image: the configured one if present or pullable, else the offline one.

        Raises ImageError when neither can be had.
        """
        if self._base is None:
            self._base = self._resolve_base()
        return self._base

    def _resolve_base(self) -> str:
        wanted = self._settings.base_image
        if self._exists(wanted):
            return wanted
        if wanted != OFFLINE_BASE:
            try:
                self._log(f"pulling {wanted}")
                self._client.images.pull(wanted)
                return wanted
            except docker.errors.APIError as exc:
                self._log(f"cannot pull {wanted} ({exc.explanation}); using the offline base")
        if not self._exists(OFFLINE_BASE):
            self._bootstrap_offline_base()
        return OFFLINE_BASE

    def runtime(self) -> str:
        """The runtime layer (venv, candidate user, /workspace) on top of the base."""
        base = self.base()
        recipe = RECIPES / "runtime"
        tag = f"{RUNTIME_REPO}:{_recipe_hash(recipe, self._image_id(base))}"
        if not self._exists(tag):
            self._docker_build(recipe, tag, parent=base, python=self._python_of(base))
        return tag

    def recipe(self, name: str, recipe_dir: Path, parent: str | None = None) -> str:
        """The image built from ``recipe_dir`` (a Dockerfile, optionally requirements.txt),
        built on top of ``parent`` (default: the runtime layer) when missing. Raises
        ImageError."""
        parent = parent or self.runtime()
        tag = f"prodproven/{name}:{_recipe_hash(recipe_dir, self._image_id(parent))}"
        if self._exists(tag):
            return tag
        if not (recipe_dir / "Dockerfile").is_file():
            raise ImageError(f"{recipe_dir}/Dockerfile is missing")
        self._docker_build(recipe_dir, tag, parent=parent, python=self._python_of(parent))
        return tag

    def grader(self) -> str:
        return self.recipe("grader", RECIPES / "grader")

    def lab(self) -> str:
        """The workspace-tools layer (JupyterLab in /opt/lab) on top of the runtime layer;
        challenge images are built on it."""
        return self.recipe("lab", RECIPES / "lab")

    def _exists(self, tag: str) -> bool:
        try:
            self._client.images.get(tag)
            return True
        except docker.errors.ImageNotFound:
            return False

    def _image_id(self, tag: str) -> str:
        try:
            return str(self._client.images.get(tag).id)
        except docker.errors.ImageNotFound as exc:
            raise ImageError(f"image {tag} is missing") from exc

    def _python_of(self, tag: str) -> str:
        image = self._client.images.get(tag)
        labelled = (image.labels or {}).get(PYTHON_LABEL)
        if labelled:
            return str(labelled)
        out = self._client.containers.run(
            tag,
            ["python3", "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
            remove=True,
            network_mode="none",
        )
        return bytes(out).decode().strip()

    def _bootstrap_offline_base(self) -> None:
        script = RECIPES / "base" / "bootstrap.sh"
        self._log(f"bootstrapping {OFFLINE_BASE} from {self._settings.debian_mirror} (~1 min)")
        with tempfile.TemporaryDirectory(prefix="prodproven-rootfs-") as tmp:
            rootfs, archive = Path(tmp) / "rootfs", Path(tmp) / "rootfs.tar"
            run_on_host(
                ["bash", str(script), str(rootfs), self._settings.debian_mirror],
                "debootstrap",
                BOOTSTRAP_TIMEOUT_S,
            )
            run_on_host(
                ["tar", "-C", str(rootfs), "-cf", str(archive), "."],
                "tar of the root fs",
                TAR_TIMEOUT_S,
            )
            repo, tag = OFFLINE_BASE.split(":")
            self._client.api.import_image_from_file(str(archive), repository=repo, tag=tag)
        if not self._exists(OFFLINE_BASE):
            raise ImageError(f"importing {OFFLINE_BASE} failed")

    def _docker_build(self, recipe: Path, tag: str, *, parent: str, python: str) -> None:
        self._log(f"building {tag}")
        with tempfile.TemporaryDirectory(prefix="prodproven-build-") as tmp:
            context = Path(tmp) / "context"
            shutil.copytree(recipe, context)
            wheels = context / "wheels"
            wheels.mkdir(exist_ok=True)
            requirements = recipe / "requirements.txt"
            if requirements.is_file():
                self._download_wheels(requirements, wheels, python)
            debs = context / "debs"
            debs.mkdir(exist_ok=True)
            if (recipe / DEBS_FILE).is_file():
                download_debs(recipe / DEBS_FILE, debs, self._log)
            try:
                for line in self._client.api.build(
                    path=str(context),
                    tag=tag,
                    buildargs={"BASE_IMAGE": parent},
                    network_mode="none",
                    labels={PYTHON_LABEL: python},
                    rm=True,
                    forcerm=True,
                    decode=True,
                ):
                    if "error" in line:
                        raise ImageError(f"building {tag} from {recipe} failed: {line['error']}")
                    text = str(line.get("stream", "")).strip()
                    if text.startswith("Step "):
                        self._log(text)
            except docker.errors.APIError as exc:
                raise ImageError(f"building {tag} from {recipe} failed: {exc}") from exc

    def _download_wheels(self, requirements: Path, dest: Path, python: str) -> None:
        self._log(f"downloading wheels for {requirements} (Python {python})")
        machine = platform.machine()
        cmd = [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--quiet",
            "--dest",
            str(dest),
            "--only-binary=:all:",
            "--python-version",
            python,
            "--implementation",
            "cp",
            "-r",
            str(requirements),
        ]
        for tag in ("manylinux_2_28", "manylinux_2_17", "manylinux2014"):
            cmd += ["--platform", f"{tag}_{machine}"]
        run_on_host(cmd, f"pip download for {requirements}", DOWNLOAD_TIMEOUT_S)


def download_debs(listing: Path, dest: Path, log: Log) -> None:
    """Fetch the Debian packages ``listing`` names (one a line, ``#`` comments) into ``dest``
    with the host's apt (the recipe unpacks them with ``dpkg-deb -x``: no maintainer scripts
    run). Raises ImageError when the host has no apt-get or a package cannot be had."""
    names = [
        line.split("#", 1)[0].strip()
        for line in listing.read_text().splitlines()
        if line.split("#", 1)[0].strip()
    ]
    if not names:
        return
    if shutil.which("apt-get") is None:
        raise ImageError(
            f"{listing} asks for Debian packages ({', '.join(names)}), fetched on the host with "
            "apt-get download, but this host has no apt-get: build on a Debian or Ubuntu host, "
            "or put the .deb files in the recipe's debs/ folder by hand"
        )
    log(f"downloading Debian packages for {listing}: {' '.join(names)}")
    run_on_host(
        ["apt-get", "download", *names],
        f"apt-get download for {listing}",
        DOWNLOAD_TIMEOUT_S,
        cwd=dest,
    )


def _recipe_hash(recipe: Path, parent_id: str) -> str:
    digest = hashlib.sha256(parent_id.encode())
    for path in sorted(p for p in recipe.rglob("*") if p.is_file()):
        digest.update(path.relative_to(recipe).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def run_on_host(cmd: list[str], what: str, timeout: float, *, cwd: Path | None = None) -> None:
    """Run ``cmd`` on the host (in ``cwd``). Raises ImageError when it fails, CommandTimeout
    when it runs longer than ``timeout`` seconds (it is killed then)."""
    try:
        proc = subprocess.run(
            cmd, capture_output=True, text=True, check=False, timeout=timeout, cwd=cwd
        )
    except FileNotFoundError as exc:
        raise ImageError(f"{what}: {cmd[0]} is not installed") from exc
    except subprocess.TimeoutExpired as exc:
        raise CommandTimeout(
            f"{what} did not finish within {timeout:.0f} s and was stopped: {' '.join(cmd)}"
        ) from exc
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout)[-1500:]
        raise ImageError(f"{what} failed (exit {proc.returncode}):\n{tail}")
