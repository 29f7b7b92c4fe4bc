"""A run's services (e.g. its MLflow tracking server): started in the workspace pod, seeded by
the challenge's setup script, archived at submit, and restored into the evaluation pod, where
graders read what the candidate left in them."""

from __future__ import annotations

import ast
import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prodproven.runner.errors import ProdprovenError
from prodproven.runner.runs.archives import write_archive
from prodproven.runner.spec.challenge import Catalog, Challenge
from prodproven.sandbox import tarball
from prodproven.sandbox.environment import (
    NOBODY_USER,
    ContainerSpec,
    Limits,
    Pod,
    Sandbox,
)
from prodproven.sandbox.errors import ServiceNotReady
from prodproven.sandbox.scripts import script
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


SETUP_ROLE = "setup"
SETUP_STATE = "/tmp/prodproven-setup"
SETUP_GO = "/setup/.prodproven-go"


def setup_imports(path: Path) -> list[str]:
    """The absolute modules the script at ``path`` imports (anywhere in it), each once."""
    names: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.append(node.module)
    return list(dict.fromkeys(n for n in names if n != "__future__"))


def _setup_config(challenge: Challenge) -> dict[str, Any]:
    setup = challenge.spec.setup
    assert setup is not None
    path = challenge.path(setup.script)
    return {
        "script": f"/setup/{path.name}",
        "imports": setup_imports(path),
        "go": SETUP_GO,
        "state": SETUP_STATE,
        "timeout": setup.timeout_s,
    }


def start_setup(pod: Pod, challenge: Challenge, image: str, env: Mapping[str, str]) -> Sandbox:
    """The container of the challenge's setup script, started with an empty ``/setup``: it
    imports what the script imports, then waits for :func:`run_setup` (``warm_setup.py``)."""
    box = pod.add(
        ContainerSpec(
            role=SETUP_ROLE,
            image=image,
            limits=SETUP_LIMITS,
            command=[
                "python",
                "-c",
                script("warm_setup.py"),
                "serve",
                json.dumps(_setup_config(challenge)),
            ],
            user=NOBODY_USER,
            workdir="/setup",
            env={**env, "HOME": "/tmp"},
            volumes={f"pp-{pod.run_id}-{pod.purpose}-setup": "/setup"},
            tmpfs=SERVICE_TMPFS,
        )
    )
    box.start()
    return box


def await_setup_imports(box: Sandbox, challenge: Challenge) -> None:
    """Return once the setup container (:func:`start_setup`) has imported what the script
    imports. Raises SetupFailed when it has not within the setup's timeout."""
    config = _setup_config(challenge)
    result = box.exec(
        ["python", "-c", script("warm_setup.py"), "warm", json.dumps(config)],
        timeout=config["timeout"] + 30,
    )
    if not result.ok:
        raise SetupFailed(
            f"the setup container of challenge {challenge.id} did not import what "
            f"{config['script']} needs: {(result.stderr or result.stdout)[-1500:]}"
        )


def run_setup(box: Sandbox, challenge: Challenge, setup_dirs: tuple[Path, ...]) -> dict[str, Any]:
    """Run the challenge's setup script beside the services, in ``box`` (:func:`start_setup`);
    returns what it printed, then stops the container.

    It runs as nobody in its own container (the candidate's container never sees the setup
    files). Raises SetupFailed with the script's output when it exits non-zero.
    """
    config = _setup_config(challenge)
    started = time.monotonic()
    try:
        box.put_archive("/setup", tarball.directories(*setup_dirs, owner=65534))
        box.put_archive("/setup", tarball.files({Path(SETUP_GO).name: b""}, owner=65534))
        result = box.exec(
            ["python", "-c", script("warm_setup.py"), "wait", json.dumps(config)],
            timeout=config["timeout"] + 30,
        )
    finally:
        box.stop(timeout=1)
    if not result.ok:
        raise SetupFailed(
            f"the setup script {config['script']} of challenge {challenge.id} failed "
            f"(exit {result.exit_code}):\n{(result.stderr or result.stdout)[-1500:]}"
        )
    return {"duration_s": round(time.monotonic() - started, 2), "stdout": result.stdout[-2000:]}


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
