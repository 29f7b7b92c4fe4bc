"""A run's services (e.g. its MLflow tracking server): started in the workspace pod, seeded by
the challenge's setup script, archived at submit, and restored into the evaluation pod, where
graders read what the candidate left in them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prodproven.runner.errors import ProdprovenError
from prodproven.runner.runs.archives import write_archive
from prodproven.runner.spec.challenge import Catalog, Challenge
from prodproven.sandbox import tarball
from prodproven.sandbox.environment import (
    KEEPALIVE,
    NOBODY_USER,
    ContainerSpec,
    Limits,
    Pod,
    Sandbox,
)
from prodproven.sandbox.errors import ServiceNotReady
from prodproven.sandbox.services import ServiceKind

LIVE_SERVICE_ROLE = "service"
"""The role of a run's live service (``service.during_run``), beside its workspace."""
SERVICE_TMPFS = {"/tmp": "rw,nosuid,size=256m,mode=1777"}
SETUP_LIMITS = Limits(memory_bytes=2**30, cpus=1.0, pids=256)


class SetupFailed(ProdprovenError):
    """The challenge's setup script failed; the run cannot start as its author intended."""


@dataclass(frozen=True)
class ServicePlan:
    """A declared service and the image to start it from."""

    name: str
    kind: ServiceKind
    image: str


@dataclass(frozen=True)
class RunningService:
    name: str
    kind: ServiceKind
    container: Sandbox


def role(name: str) -> str:
    return f"svc-{name}"


def client_env(challenge: Challenge, catalog: Catalog) -> dict[str, str]:
    """Environment variables that point a run's containers at its services."""
    env: dict[str, str] = {}
    for name, kind in challenge.services(catalog):
        env.update(kind.client_env(name))
    return env


def start_services(
    pod: Pod, plans: Sequence[ServicePlan], *, restore: Mapping[str, Path] | None = None
) -> list[RunningService]:
    """Start each planned service in ``pod`` and wait until each answers its health check.

    ``restore`` maps a service name to a tar of its data directory (from a submit) to unpack
    before it starts. Raises ServiceNotReady with the service's last output.
    """
    running: list[RunningService] = []
    for plan in plans:
        name, kind = plan.name, plan.kind
        volume = f"pp-{pod.run_id}-{pod.purpose}-{role(name)}"
        box = pod.add(
            ContainerSpec(
                role=role(name),
                image=plan.image,
                limits=kind.limits,
                command=kind.command(name),
                user=kind.user,
                workdir="/tmp",
                env={**kind.env, "HOME": "/tmp"},
                volumes={volume: kind.data_dir} if kind.data_dir else {},
                tmpfs=SERVICE_TMPFS,
            )
        )
        archive = (restore or {}).get(name)
        if archive is not None and kind.data_dir:
            box.put_archive(kind.data_dir, archive.read_bytes())
        box.start()
        running.append(RunningService(name, kind, box))
    for service in running:
        try:
            pod.wait_http(
                service.kind.port, service.kind.health_path, timeout=service.kind.startup_timeout_s
            )
        except ServiceNotReady as exc:
            raise ServiceNotReady(
                f"the {service.kind.kind} service {service.name!r} did not become ready: {exc}. "
                f"Its last output:\n{service.container.logs(tail=20)}"
            ) from exc
    return running


def find_running(pod: Pod, declared: Sequence[tuple[str, ServiceKind]]) -> list[RunningService]:
    """The declared services found in an existing pod (e.g. after a runner restart)."""
    return [
        RunningService(name, kind, box)
        for name, kind in declared
        if (box := pod.member(role(name))) is not None
    ]


def run_setup(
    pod: Pod,
    challenge: Challenge,
    image: str,
    setup_dirs: tuple[Path, ...],
    env: Mapping[str, str],
) -> dict[str, Any]:
    """Run the challenge's setup script beside the services; returns what it printed.

    It runs as nobody in its own container (the candidate's container never sees the setup
    files). Raises SetupFailed with the script's output when it exits non-zero.
    """
    setup = challenge.spec.setup
    assert setup is not None
    script = challenge.path(setup.script)
    box = pod.add(
        ContainerSpec(
            role="setup",
            image=image,
            limits=SETUP_LIMITS,
            command=KEEPALIVE,
            user=NOBODY_USER,
            workdir="/setup",
            env={**env, "HOME": "/tmp"},
            volumes={f"pp-{pod.run_id}-{pod.purpose}-setup": "/setup"},
            tmpfs=SERVICE_TMPFS,
        )
    )
    box.put_archive("/setup", tarball.directories(*setup_dirs, owner=65534))
    box.start()
    try:
        result = box.exec(["python", f"/setup/{script.name}"], timeout=setup.timeout_s)
    finally:
        box.stop(timeout=1)
    if not result.ok:
        raise SetupFailed(
            f"the setup script {script} of challenge {challenge.id} failed "
            f"(exit {result.exit_code}):\n{(result.stderr or result.stdout)[-1500:]}"
        )
    return {"duration_s": round(result.duration_s, 2), "stdout": result.stdout[-2000:]}


def archive_services(
    services: list[RunningService], folder: Path, *, max_bytes: int
) -> dict[str, dict[str, Any]]:
    """Stop each service with a data directory and write that directory as a tar under
    ``folder`` (``.partial`` first, fsync'd, renamed). Returns name -> path, sha256, bytes."""
    folder.mkdir(parents=True, exist_ok=True)
    written: dict[str, dict[str, Any]] = {}
    for service in services:
        if not service.kind.data_dir:
            continue
        service.container.stop(timeout=10)
        final = folder / f"{service.name}.tar"
        archive = write_archive(
            service.container, service.kind.data_dir, final, max_bytes=max_bytes
        )
        written[service.name] = {
            "path": str(final),
            "sha256": archive.sha256,
            "bytes": archive.size,
        }
    return written
