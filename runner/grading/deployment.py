"""The candidate's declared deployment in the evaluation pod: ``replicas`` containers of the
service, each with exactly the declared cgroup limits and restarted by the engine when it dies,
behind HAProxy (a trusted container of the grader image) listening on the service's port.

The evaluation (evaluation.py) reads deploy.yaml from the archive, starts what it declares with
:func:`start`, and waits for it with :func:`wait_ready`.
"""

from __future__ import annotations

import dataclasses
import tarfile
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prodproven.graders.deployment import DeployFile, DeploymentInvalid, ReplicaUsage, parse_deploy
from prodproven.runner.spec.parts import DeploymentSpec, ServiceSpec
from prodproven.sandbox import tarball
from prodproven.sandbox.environment import NOBODY_USER, ContainerSpec, Limits, Pod, Sandbox
from prodproven.sandbox.errors import ServiceNotReady

REPLICA_RESTARTS = 3
"""How often the engine restarts a replica that died (an OOM kill shows as a restart)."""
BALANCER_ROLE = "balancer"
BALANCER_LIMITS = Limits(memory_bytes=256 * 2**20, cpus=0.5, pids=256)
BALANCER_MAXCONN = 2000
"""Connections HAProxy holds at once; a load test opens far fewer."""
CHECK_INTER_S = 1.0
CHECK_FALL = 2
"""HAProxy checks each replica's health every CHECK_INTER_S and takes it out of rotation after
CHECK_FALL failures in a row."""
MIN_WAIT_S = 3.0
"""Each replica gets at least this long to answer, even when an earlier one used up the wait."""
DEPLOY_MAX_BYTES = 64 * 2**10
Log = Callable[[str, dict[str, Any]], None]


@dataclass(frozen=True)
class Replica:
    box: Sandbox
    port: int


@dataclass(frozen=True)
class Deployment:
    """A started deployment: its declaration, the replicas and the balancer in front."""

    declared: DeployFile
    replicas: list[Replica]
    balancer: Sandbox


def archive_member(tar: tarfile.TarFile, rel: str) -> tarfile.TarInfo | None:
    """The member of a workspace archive at ``rel`` (stored with or without ``./``)."""
    for name in (rel, f"./{rel}"):
        try:
            return tar.getmember(name)
        except KeyError:
            continue
    return None


def read_declared(archive: Path, spec: DeploymentSpec) -> DeployFile:
    """The deployment the archived workspace declares in ``spec.file``, checked against the
    schema and the quota, its model a regular file of the archive. Raises DeploymentInvalid."""
    with tarfile.open(archive) as tar:
        member = archive_member(tar, spec.file)
        if member is None or not member.isfile():
            raise DeploymentInvalid(f"{spec.file}: missing from the submitted workspace")
        if member.size > DEPLOY_MAX_BYTES:
            raise DeploymentInvalid(f"{spec.file}: larger than {DEPLOY_MAX_BYTES} bytes")
        fh = tar.extractfile(member)
        text = fh.read().decode("utf-8", "replace") if fh else ""
        declared = parse_deploy(text, spec.quota, models_dir=spec.models_dir, file=spec.file)
        model = archive_member(tar, declared.model)
        if model is None or not model.isfile():
            raise DeploymentInvalid(
                f"{spec.file}: model: {declared.model!r} is not a file of the submitted "
                f"workspace (a symlink or folder does not count)"
            )
    return declared


def replica_env(declared: DeployFile, port: int, client_env: Mapping[str, str]) -> dict[str, str]:
    """A replica's environment: the client's, the file's, then what the runner sets."""
    return {
        **client_env,
        **declared.env,
        "PORT": str(port),
        "MODEL_PATH": f"/workspace/{declared.model}",
    }


def haproxy_config(port: int, health_path: str, replica_ports: list[int]) -> str:
    """HAProxy's configuration: least-connections over the replicas, each health-checked."""
    servers = "\n".join(
        f"    server replica-{i + 1} 127.0.0.1:{p} check" for i, p in enumerate(replica_ports)
    )
    return f"""global
    maxconn {BALANCER_MAXCONN}

defaults
    mode http
    maxconn {BALANCER_MAXCONN}
    retries 2
    option redispatch
    timeout connect 2s
    timeout client 60s
    timeout server 60s
    timeout queue 30s
    timeout http-request 10s
    default-server inter {CHECK_INTER_S:g}s fall {CHECK_FALL} rise 1

frontend service
    bind 127.0.0.1:{port}
    default_backend replicas

backend replicas
    balance leastconn
    option httpchk GET {health_path}
{servers}
"""


def start(
    pod: Pod,
    declared: DeployFile,
    service: ServiceSpec,
    *,
    replica_spec: Callable[[str, Limits, dict[str, str]], ContainerSpec],
    archive: bytes,
    pids: int,
    client_env: Mapping[str, str],
    balancer_image: str,
    balancer_cpuset: str | None,
    balancer_volume: str,
) -> Deployment:
    """Start the replicas (``replica_spec`` makes the hardened candidate container of a role)
    and the balancer. Raises ImageError, ContainerError."""
    assert service.deployment is not None
    limits = Limits(memory_bytes=declared.memory_mb * 2**20, cpus=declared.cpus, pids=pids)
    replicas = []
    for index, port in enumerate(service.deployment.replica_ports(declared.replicas)):
        spec = replica_spec(f"service-{index + 1}", limits, replica_env(declared, port, client_env))
        box = pod.add(dataclasses.replace(spec, restart_retries=REPLICA_RESTARTS))
        box.put_archive("/workspace", archive)
        box.start()
        replicas.append(Replica(box, port))
    balancer = pod.add(
        ContainerSpec(
            role=BALANCER_ROLE,
            image=balancer_image,
            limits=BALANCER_LIMITS,
            command=["haproxy", "-db", "-f", "/balancer/haproxy.cfg"],
            user=NOBODY_USER,
            workdir="/balancer",
            volumes={balancer_volume: "/balancer"},
            tmpfs={"/tmp": "rw,size=16m,mode=1777"},
            cpuset=balancer_cpuset,
        )
    )
    config = haproxy_config(service.port, service.health_path, [r.port for r in replicas])
    balancer.put_archive("/balancer", tarball.files({"haproxy.cfg": config.encode()}, owner=65534))
    balancer.start()
    return Deployment(declared, replicas, balancer)


def wait_ready(pod: Pod, deployment: Deployment, service: ServiceSpec, log: Log) -> float:
    """Wait until every replica answers its health check on its own port, then the balancer;
    returns the seconds waited. A replica never ready is logged (``deployment.unready``, with
    its last output) and left out by HAProxy's checks; ServiceNotReady only when none is."""
    started = time.monotonic()
    deadline = started + service.startup_timeout_s
    ready = 0
    for replica in deployment.replicas:
        _restart_if_exited(replica.box, log)
        wait = max(MIN_WAIT_S, deadline - time.monotonic())
        try:
            pod.wait_http(replica.port, service.health_path, timeout=wait)
            ready += 1
        except ServiceNotReady as exc:
            log(
                "deployment.unready",
                {"replica": replica.box.role, "reason": str(exc), "logs": replica.box.logs(30)},
            )
    if ready == 0:
        first = deployment.replicas[0].box
        raise ServiceNotReady(
            f"none of the {len(deployment.replicas)} replicas answered {service.health_path} "
            f"within {service.startup_timeout_s:.0f}s. {first.role}'s last output:\n"
            f"{first.logs(tail=20)}"
        )
    _restart_if_exited(deployment.balancer, log)
    try:
        pod.wait_http(
            service.port, service.health_path, timeout=max(MIN_WAIT_S, deadline - time.monotonic())
        )
    except ServiceNotReady as exc:
        raise ServiceNotReady(
            f"{exc}: the load balancer did not answer. Its output:\n"
            f"{deployment.balancer.logs(tail=20)}"
        ) from exc
    if ready < len(deployment.replicas):
        # HAProxy took every replica as up at start: let its checks take the dead ones out.
        time.sleep(CHECK_INTER_S * (CHECK_FALL + 1))
    return time.monotonic() - started


def _restart_if_exited(box: Sandbox, log: Log) -> None:
    if box.state() in ("exited", "dead", "created"):
        log(
            "service.restarted",
            {"container": box.role, "exit_code": box.exit_code(), "logs": box.logs(30)},
        )
        box.restart()


def usage(deployment: Deployment) -> list[ReplicaUsage]:
    """Each replica's declared limits and what its cgroup measured, read at once (the engine
    may take up to a second per reading: its stats collector ticks each second)."""
    declared = deployment.declared
    with ThreadPoolExecutor(max_workers=len(deployment.replicas)) as pool:
        return list(
            pool.map(
                lambda r: measured(r.box, declared.cpus, declared.memory_mb * 2**20),
                deployment.replicas,
            )
        )


def measured(box: Sandbox, cpus: float, memory_bytes: int) -> ReplicaUsage:
    """``box``'s limits and cgroup figures as a ReplicaUsage."""
    figures = box.usage()
    return ReplicaUsage(
        name=box.role,
        cpus=cpus,
        memory_bytes=memory_bytes,
        cpu_seconds=figures.cpu_seconds,
        memory_bytes_now=figures.memory_bytes_now,
        memory_peak_bytes=figures.memory_peak_bytes,
        oom_kills=figures.oom_kills,
        restarts=figures.restarts,
        state=box.state(),
    )


def logs(deployment: Deployment, tail: int) -> str:
    """Every replica's last output, then the balancer's, each under its name."""
    boxes = [r.box for r in deployment.replicas] + [deployment.balancer]
    return "\n".join(f"== {box.role} ==\n{box.logs(tail=tail)}" for box in boxes)
