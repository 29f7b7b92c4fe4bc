"""Generated challenge material: a challenge's ``prepare`` script runs once per version (and
variant seed) inside its own image (no network, unprivileged) and writes ``out/workspace``,
``out/hidden`` and ``out/setup``; the result is cached on the host under the data directory,
never baked into an image."""

from __future__ import annotations

import hashlib
import secrets
import shutil
import tarfile
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from prodproven.runner.errors import ProdprovenError
from prodproven.runner.spec.challenge import Challenge
from prodproven.runner.spec.model import shown
from prodproven.sandbox import tarball
from prodproven.sandbox.environment import CANDIDATE_UID, Backend, ContainerSpec, Limits, PodSize
from prodproven.sandbox.untrusted import UntrustedInput

PREPARE_LIMITS = Limits(memory_bytes=2 * 2**30, cpus=2.0, pids=512)
MAX_VARIANT = 2**31 - 1
"""Variants (the seeds of generated material and incident draws) are 0 to MAX_VARIANT."""


PARTS = ("workspace", "hidden", "setup")


def pod_size(limits: Iterable[Limits]) -> PodSize:
    """What a pod whose containers have ``limits`` reserves where a backend places pods: their
    sum. The one sizing of every pod the runner makes (the prepare pod here, a run's workspace
    pod in ``lifecycle/start.py``, the evaluation pod in ``grading/evaluation.py``); here, in
    the lowest layer that makes a pod."""
    listed = list(limits)
    return PodSize(sum(lim.memory_bytes for lim in listed), sum(lim.cpus for lim in listed))


@dataclass(frozen=True)
class Material:
    """Where a challenge's files are on the host, each part in overlay order: ``workspace``
    (starter files), ``hidden`` (grader-only) and ``setup`` (for the setup script only)."""

    workspace: tuple[Path, ...]
    hidden: tuple[Path, ...]
    setup: tuple[Path, ...]

    def hidden_file(self, rel: str) -> Path | None:
        """The hidden file ``rel`` (the last root that has it wins), or None; never a path
        outside the roots."""
        for root in reversed(self.hidden):
            path = (root / rel).resolve()
            if path.is_relative_to(root.resolve()) and path.is_file():
                return path
        return None


def material(
    challenge: Challenge, image: str, backend: Backend, cache: Path, variant: int | None = None
) -> Material:
    """The challenge's material for ``variant`` (None: the script's default seed), generating
    what ``prepare`` makes when it is not cached yet. UntrustedInput for a variant out of
    range."""
    if variant is not None:
        check_variant(variant)
    setup_dir = challenge.path(challenge.spec.setup.script).parent if challenge.spec.setup else None
    static = {
        "workspace": challenge.path("workspace"),
        "hidden": challenge.path("hidden"),
        "setup": setup_dir,
    }
    generated = None
    if challenge.spec.prepare is not None:
        generated = cache / challenge.id / _key(challenge, image, variant)
        if not (generated / "complete").is_file():
            _generate(challenge, image, backend, generated, variant)
    parts = {
        part: tuple(
            p
            for p in (static[part], generated / part if generated else None)
            if p is not None and p.is_dir()
        )
        for part in PARTS
    }
    return Material(**parts)


def check_variant(variant: int) -> int:
    """``variant`` when it is a whole number from 0 to MAX_VARIANT; UntrustedInput otherwise."""
    if isinstance(variant, bool) or not isinstance(variant, int) or not 0 <= variant <= MAX_VARIANT:
        raise UntrustedInput(
            f"variant: {shown(variant)} must be a whole number from 0 to {MAX_VARIANT}"
        )
    return variant


def _key(challenge: Challenge, image: str, variant: int | None) -> str:
    assert challenge.spec.prepare is not None
    digest = hashlib.sha256(f"{challenge.spec.version}\0{image}\0{variant}".encode())
    folder = challenge.path(challenge.spec.prepare.script).parent
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest.update(path.relative_to(folder).as_posix().encode() + path.read_bytes())
    return digest.hexdigest()[:16]


def _generate(
    challenge: Challenge, image: str, backend: Backend, dest: Path, variant: int | None
) -> None:
    assert challenge.spec.prepare is not None
    script = challenge.path(challenge.spec.prepare.script)
    # A fresh pod name per generation: two processes preparing the same material at once (two
    # runs starting on a fresh version, parallel test workers) must not take each other's pod.
    # A pod left by a crashed process belongs to no run of the store: `prodproven gc` removes it.
    job = f"prep-{secrets.token_hex(5)}"
    pod = backend.create_pod(job, "prepare", size=pod_size([PREPARE_LIMITS]))
    try:
        box = pod.add(
            ContainerSpec(
                role="generator",
                image=image,
                limits=PREPARE_LIMITS,
                command=["sleep", "infinity"],
                volumes={f"pp-{job}-prepare": "/work"},
                tmpfs={"/tmp": "rw,size=1g,mode=1777"},
            )
        )
        box.put_archive(
            "/work", tarball.directories(script.parent, owner=CANDIDATE_UID, prefix="prepare")
        )
        box.put_archive("/work", tarball.files({"out/": b""}, owner=CANDIDATE_UID))
        box.start()
        seed = [] if variant is None else ["--seed", str(variant)]
        result = box.exec(
            ["python", f"/work/prepare/{script.name}", "/work/out", *seed],
            timeout=challenge.spec.prepare.timeout_s,
        )
        if not result.ok:
            raise ProdprovenError(
                f"the prepare script {script} of challenge {challenge.id} failed "
                f"(exit {result.exit_code}):\n{(result.stderr or result.stdout)[-1500:]}"
            )
        with tempfile.TemporaryDirectory() as tmp:
            archive = Path(tmp) / "out.tar"
            box.get_archive("/work/out/.", str(archive), max_bytes=2 * 2**30)
            staging = Path(tmp) / "staging"
            with tarfile.open(archive) as tar:
                tar.extractall(staging, filter="data")
            for part in PARTS:
                (staging / part).mkdir(exist_ok=True)
            if (dest / "complete").is_file():
                return  # another process of this data directory prepared it meanwhile
            if dest.exists():
                shutil.rmtree(dest)
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(str(staging), dest)
        (dest / "complete").write_text(result.stdout[-4000:])
    finally:
        pod.remove()
