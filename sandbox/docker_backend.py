"""The Docker implementation of the sandbox interface (pod-style network isolation).

Each pod is owned by a trusted container started with ``network_mode=none``; every other
container of the run joins its namespace with ``network_mode=container:<owner>``. They share
loopback and have no other interface, so candidate code cannot reach the internet, other runs
or the host, even a host service bound to 0.0.0.0 (which a Docker ``internal`` network would
still expose).
"""

from __future__ import annotations

import contextlib
import io
import tarfile
import threading
import time
from collections.abc import Callable, Generator, Iterator, Mapping, Sequence
from typing import Any

import docker
import docker.errors
import requests
from docker.models.containers import Container

from prodproven.sandbox import dockerstats
from prodproven.sandbox.environment import (
    NOBODY_USER,
    RUN_LABEL,
    Backend,
    ContainerSpec,
    ExecResult,
    Limits,
    Pod,
    PodSize,
    PublishedPort,
    Sandbox,
    Usage,
)
from prodproven.sandbox.errors import (
    ContainerError,
    DockerUnavailable,
    ExecTimeout,
    ImageError,
    ServiceNotReady,
)
from prodproven.sandbox.loopvolume import LoopVolumes, ensure_volume, for_engine
from prodproven.sandbox.portforward import PortForward
from prodproven.sandbox.scripts import script

ROLE_LABEL = "prodproven.role"
PURPOSE_LABEL = "prodproven.purpose"
OUTPUT_CAP = 1 << 20
LOG_MAX_SIZE = "10m"
LOG_MAX_FILES = 3
"""Each container's output is kept in at most this many files of this size (json-file
driver, rotated by the engine), so a service flooding its output cannot fill the disk."""
HARDENING: dict[str, Any] = {
    "cap_drop": ["ALL"],
    "security_opt": ["no-new-privileges:true"],
    "init": True,
    "log_config": {
        "type": "json-file",
        "config": {"max-size": LOG_MAX_SIZE, "max-file": str(LOG_MAX_FILES)},
    },
}
VOLUME_REMOVAL_WAIT_S = 30.0
"""How long removing a pod or a run waits for its volumes. A volume of many files (100,000
took minutes to delete on a disk mounted with ``discard``) is left to the engine, which goes
on deleting it; ``prodproven gc`` removes anything still there later."""
POD_OWNER_LIMITS = Limits(memory_bytes=128 * 2**20, cpus=0.5, pids=64)
"""The namespace owner sleeps; the readiness checks and one pump per forwarded connection
(``portforward.py``) run in it by exec, within these limits."""


def limit_options(limits: Limits) -> dict[str, Any]:
    """The engine's options for ``limits``: memory without swap on top, CPU, processes."""
    return {
        "mem_limit": limits.memory_bytes,
        "memswap_limit": limits.memory_bytes,
        "nano_cpus": int(limits.cpus * 1e9),
        "pids_limit": limits.pids,
    }


ENGINE_ERRORS: tuple[type[Exception], ...] = (
    docker.errors.DockerException,
    requests.exceptions.RequestException,
)
"""What the Docker SDK raises when the engine fails or stops answering in a call this module
does not wrap (a read timeout under load); the edges report it as the engine not answering."""


def connect(timeout: float = 120.0) -> Any:
    """A Docker client for the engine named by the environment (DOCKER_HOST or the socket).

    Raises DockerUnavailable with the reason when the engine does not answer.
    """
    try:
        client = docker.from_env(timeout=int(timeout))
        client.ping()
    except Exception as exc:  # docker raises several unrelated types here
        raise DockerUnavailable(
            "the Docker engine does not answer "
            f"({exc.__class__.__name__}: {exc}). Start it with infra/docker-engine.sh"
        ) from exc
    return client


class DockerSandbox(Sandbox):
    def __init__(self, container: Container, role: str) -> None:
        self._container = container
        self.role = role
        self.name: str = container.name
        self.id: str = container.id
        self._usage_lock = threading.Lock()
        self._totals = dockerstats.Totals()

    def _call(self, what: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except docker.errors.APIError as exc:
            raise ContainerError(
                f"{what} in container {self.name} failed: {exc.explanation}"
            ) from exc

    def start(self) -> None:
        self._call("start", self._container.start)

    def restart(self) -> None:
        self._call("restart", self._container.restart, timeout=2)

    def exec(
        self,
        cmd: Sequence[str],
        *,
        user: str | None = None,
        workdir: str | None = None,
        env: Mapping[str, str] | None = None,
        timeout: float = 60.0,
    ) -> ExecResult:
        api = self._container.client.api
        # coreutils timeout kills inside the container, which works on every engine.
        wrapped = ["timeout", "--kill-after=5", f"{timeout:.0f}", *cmd]
        started = time.monotonic()
        exec_id = self._call(
            "exec",
            api.exec_create,
            self.id,
            wrapped,
            user=user or "",
            workdir=workdir,
            environment=dict(env or {}),
        )["Id"]
        chunks = self._call("exec", api.exec_start, exec_id, stream=True, demux=True)
        stdout, stderr = _collect(chunks)
        exit_code = api.exec_inspect(exec_id)["ExitCode"]
        result = ExecResult(exit_code, stdout, stderr, time.monotonic() - started)
        if exit_code in (124, 137) and result.duration_s >= timeout:
            raise ExecTimeout(
                f"{' '.join(cmd)[:200]} in {self.name} did not finish within {timeout:.0f}s"
                f"; last output: {(stderr or stdout)[-500:]!r}"
            )
        return result

    def put_archive(self, path: str, tar_bytes: bytes) -> None:
        ok = self._call("copy into", self._container.put_archive, path, tar_bytes)
        if not ok:
            raise ContainerError(f"copy into {self.name}:{path} was refused")

    def archive_chunks(self, path: str) -> Generator[bytes, None, None]:
        try:
            stream, _ = self._container.get_archive(path, chunk_size=1 << 20)
        except docker.errors.NotFound as exc:
            raise ContainerError(f"{self.name}:{path} does not exist") from exc
        except docker.errors.APIError as exc:
            raise ContainerError(f"copy out of {self.name}:{path} failed: {exc}") from exc
        yield from stream

    def read_file(self, path: str, *, max_bytes: int = 16 * 2**20) -> bytes:
        buf = io.BytesIO()
        try:
            stream, stat = self._container.get_archive(path)
        except docker.errors.NotFound as exc:
            raise ContainerError(f"{self.name}:{path} does not exist") from exc
        if stat.get("size", 0) > max_bytes:
            raise ContainerError(f"{self.name}:{path} is larger than {max_bytes} bytes")
        for chunk in stream:
            buf.write(chunk)
        with tarfile.open(fileobj=io.BytesIO(buf.getvalue())) as tar:
            member = tar.next()
            fh = tar.extractfile(member) if member and member.isfile() else None
            if fh is None:
                raise ContainerError(f"{self.name}:{path} is not a regular file")
            return fh.read()

    def logs(self, tail: int = 200) -> str:
        data = self._call("logs", self._container.logs, tail=tail)
        return bytes(data).decode("utf-8", "replace")

    def state(self) -> str:
        with contextlib.suppress(docker.errors.NotFound):
            self._container.reload()
            return str(self._container.status)
        return "removed"

    def exit_code(self) -> int | None:
        if self.state() in ("running", "created", "restarting"):
            return None
        return int(self._container.attrs["State"]["ExitCode"])

    def usage(self) -> Usage:
        with self._usage_lock:
            return dockerstats.read(self._container.client.api, self.id, self.name, self._totals)

    def stop(self, timeout: float = 5.0) -> None:
        with contextlib.suppress(docker.errors.NotFound):
            self._container.stop(timeout=int(timeout))


def owner_name(run_id: str, purpose: str) -> str:
    """The name of a pod's owner: a container here, a Swarm service on a cluster."""
    return f"pp-{run_id}-{purpose}-pod"


class DockerPod(Pod):
    def __init__(
        self, client: Any, owner: Container, run_id: str, purpose: str, loops: LoopVolumes | None
    ) -> None:
        self._client = client
        self._loops = loops
        self._owner = owner
        self.run_id = run_id
        self.purpose = purpose
        self._members: list[DockerSandbox] = []
        self._forwards: list[PortForward] = []

    def _labels(self, role: str) -> dict[str, str]:
        return {RUN_LABEL: self.run_id, PURPOSE_LABEL: self.purpose, ROLE_LABEL: role}

    def add(self, spec: ContainerSpec) -> Sandbox:
        for volume, path in spec.volumes.items():
            ensure_volume(self._client, self._loops, volume, path, self._labels(spec.role))
        kwargs: dict[str, Any] = dict(
            name=f"pp-{self.run_id}-{self.purpose}-{spec.role}",
            command=list(spec.command) if spec.command is not None else None,
            user=spec.user,
            working_dir=spec.workdir,
            environment=dict(spec.env),
            network_mode=f"container:{self._owner.id}",
            read_only=spec.read_only,
            tmpfs=dict(spec.tmpfs),
            volumes={name: {"bind": path, "mode": "rw"} for name, path in spec.volumes.items()},
            labels=self._labels(spec.role),
            **limit_options(spec.limits),
            **HARDENING,
        )
        if spec.cpuset:
            kwargs["cpuset_cpus"] = spec.cpuset
        if spec.restart_retries:
            kwargs["restart_policy"] = {
                "Name": "on-failure",
                "MaximumRetryCount": spec.restart_retries,
            }
        try:
            container = self._client.containers.create(spec.image, **kwargs)
        except docker.errors.ImageNotFound as exc:
            raise ImageError(
                f"image {spec.image} for the {spec.role} container is missing; "
                "build it with `prodproven images build`"
            ) from exc
        except docker.errors.APIError as exc:
            raise ContainerError(f"cannot create the {spec.role} container: {exc}") from exc
        sandbox = DockerSandbox(container, spec.role)
        self._members.append(sandbox)
        return sandbox

    def containers(self) -> list[Sandbox]:
        return list(self._members)

    def owner(self) -> DockerSandbox:
        return DockerSandbox(self._owner, "pod")

    def wait_http(self, port: int, path: str, *, timeout: float) -> float:
        return self._wait(
            [script("wait_http.py"), str(port), path, str(timeout)],
            timeout,
            f"nothing answered 2xx at 127.0.0.1:{port}{path}",
        )

    def wait_port(self, port: int, *, timeout: float) -> float:
        return self._wait(
            [script("wait_tcp.py"), str(port), str(timeout)],
            timeout,
            f"nothing accepted connections on 127.0.0.1:{port}",
        )

    def _wait(self, script: list[str], timeout: float, failure: str) -> float:
        try:
            result = self.owner().exec(["python3", "-c", *script], timeout=timeout + 10)
        except ExecTimeout as exc:
            raise ServiceNotReady(str(exc)) from exc
        if not result.ok:
            raise ServiceNotReady(
                f"{failure} in the {self.purpose} pod of run {self.run_id} within {timeout:.0f}s"
            )
        return float(result.stdout.strip() or 0)

    def publish(self, port: int) -> PublishedPort:
        forward = PortForward(self._client.api, self._owner.id, port)
        self._forwards.append(forward)
        return PublishedPort(inner_port=port, host="127.0.0.1", host_port=forward.host_port)

    def unpublish(self, published: PublishedPort) -> None:
        for forward in [f for f in self._forwards if f.host_port == published.host_port]:
            forward.close()
            self._forwards.remove(forward)

    def adopt_members(self) -> None:
        """Take in the pod's containers already on its engine (a pod attached again)."""
        for container in self._client.containers.list(
            all=True,
            filters={"label": [f"{RUN_LABEL}={self.run_id}", f"{PURPOSE_LABEL}={self.purpose}"]},
        ):
            role = container.labels.get(ROLE_LABEL, "")
            if role != "pod":
                self._members.append(DockerSandbox(container, role))

    def remove(self) -> None:
        for forward in self._forwards:
            forward.close()
        self._forwards.clear()
        _remove_labelled(self._client, {RUN_LABEL: self.run_id, PURPOSE_LABEL: self.purpose})
        if self._loops is not None:
            self._loops.release(f"pp-{self.run_id}-{self.purpose}-")
        self._members.clear()


class DockerBackend(Backend):
    """With ``loops``, every volume mounted at /workspace is a size-limited loop volume."""

    def __init__(self, client: Any, pod_image: str, loops: LoopVolumes | None = None) -> None:
        self._client = client
        self._pod_image = pod_image
        self._loops = loops

    @classmethod
    def from_env(cls, pod_image: str, workspace_mb: int = 0) -> DockerBackend:
        """The engine of the environment; /workspace volumes of ``workspace_mb`` MiB if not 0."""
        client = connect()
        return cls(client, pod_image, for_engine(client, workspace_mb))

    @property
    def client(self) -> Any:
        return self._client

    def create_pod(
        self,
        run_id: str,
        purpose: str,
        *,
        hosts: Sequence[str] = (),
        size: PodSize | None = None,
        on_wait: Callable[[str], None] | None = None,
    ) -> Pod:
        name = owner_name(run_id, purpose)
        try:
            owner = self._client.containers.run(
                self._pod_image,
                ["python3", "-c", "import signal; signal.pause()"],
                name=name,
                detach=True,
                network_mode="none",
                # Members share the owner's /etc/hosts, so these names work in every container.
                extra_hosts={host: "127.0.0.1" for host in hosts},
                user=NOBODY_USER,
                read_only=True,
                labels={RUN_LABEL: run_id, PURPOSE_LABEL: purpose, ROLE_LABEL: "pod"},
                **limit_options(POD_OWNER_LIMITS),
                **HARDENING,
            )
        except docker.errors.ImageNotFound as exc:
            raise ImageError(
                f"pod image {self._pod_image} is missing; build it with `prodproven images build`"
            ) from exc
        except docker.errors.APIError as exc:
            raise ContainerError(f"cannot create pod {name}: {exc}") from exc
        return DockerPod(self._client, owner, run_id, purpose, self._loops)

    def attach_pod(self, run_id: str, purpose: str) -> Pod | None:
        try:
            owner = self._client.containers.get(owner_name(run_id, purpose))
        except docker.errors.NotFound:
            return None
        pod = DockerPod(self._client, owner, run_id, purpose, self._loops)
        if self._loops is not None:  # before any container of the pod mounts its volumes
            self._loops.attach_all(f"pp-{run_id}-{purpose}-")
        pod.adopt_members()
        if owner.status != "running":
            with contextlib.suppress(docker.errors.APIError):
                owner.start()
        return pod

    def run_ids_with_leftovers(self) -> set[str]:
        found = {
            c.labels[RUN_LABEL]
            for c in self._client.containers.list(all=True, filters={"label": RUN_LABEL})
        }
        found |= {
            v.attrs["Labels"][RUN_LABEL]
            for v in self._client.volumes.list(filters={"label": RUN_LABEL})
        }
        # An image whose volume is gone (a crash in between) is a leftover too.
        return found | (self._loops.run_ids() if self._loops is not None else set())

    def remove_run(self, run_id: str, *, keep_volumes: bool = False) -> int:
        removed = _remove_labelled(self._client, {RUN_LABEL: run_id}, keep_volumes=keep_volumes)
        if self._loops is not None and not keep_volumes:
            self._loops.release(f"pp-{run_id}-")
        return removed


def _remove_labelled(client: Any, labels: dict[str, str], *, keep_volumes: bool = False) -> int:
    selector = [f"{k}={v}" for k, v in labels.items()]
    removed = 0
    containers = client.containers.list(all=True, filters={"label": selector})
    # Members first, the namespace owner last: joined containers depend on it.
    containers.sort(key=lambda c: c.labels.get(ROLE_LABEL) == "pod")
    for container in containers:
        with contextlib.suppress(docker.errors.NotFound):
            try:
                container.remove(force=True)
            except docker.errors.APIError as exc:
                # Another remover got there first (a gc, a second close): it will finish.
                if exc.status_code != 409 or "in progress" not in str(exc.explanation):
                    raise
            removed += 1
    if not keep_volumes:
        removed += remove_volumes(client.volumes.list(filters={"label": selector}))
    return removed


def remove_volumes(volumes: list[Any]) -> int:
    """Remove ``volumes``, waiting up to VOLUME_REMOVAL_WAIT_S; returns how many there were.

    Raises ContainerError when the engine refuses one within that time.
    """
    refused: list[Exception] = []

    def remove() -> None:
        for volume in volumes:
            try:
                volume.remove(force=True)
            except docker.errors.NotFound:
                pass
            except Exception as exc:  # the engine's refusal, or its answer timing out
                refused.append(exc)

    worker = threading.Thread(target=remove, daemon=True)
    worker.start()
    worker.join(VOLUME_REMOVAL_WAIT_S)
    if refused and not worker.is_alive():
        raise ContainerError(f"cannot remove a volume: {refused[0]}")
    return len(volumes)


def _collect(chunks: Iterator[tuple[bytes | None, bytes | None]]) -> tuple[str, str]:
    out, err = bytearray(), bytearray()
    for stdout, stderr in chunks:
        if stdout:
            out += stdout
            del out[: max(0, len(out) - OUTPUT_CAP)]
        if stderr:
            err += stderr
            del err[: max(0, len(err) - OUTPUT_CAP)]
    return out.decode("utf-8", "replace"), err.decode("utf-8", "replace")
