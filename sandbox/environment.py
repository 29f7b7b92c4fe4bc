"""The sandbox interface: what the runner and the graders may do with a run's containers.

A run lives in a :class:`Pod`: a private network namespace owned by a trusted container with
no network interface but loopback. Every container of the run joins it, so they talk over
``127.0.0.1`` and can reach nothing else: not the internet, not other runs, not the host.
People and graders outside reach in through :meth:`Pod.publish`, which listens on the host's
``127.0.0.1`` only.
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from collections.abc import Callable, Generator, Mapping, Sequence
from dataclasses import dataclass, field

from prodproven.sandbox.errors import ContainerError

CANDIDATE_UID = 1000
CANDIDATE_USER = f"{CANDIDATE_UID}:{CANDIDATE_UID}"
NOBODY_USER = "65534:65534"
RUN_LABEL = "prodproven.run"
KEEPALIVE = ["python3", "-c", "import signal; signal.pause()"]
"""A main command that idles until the container is stopped (commands then run by exec)."""


@dataclass(frozen=True)
class Limits:
    """Resource limits applied to a container (cgroups)."""

    memory_bytes: int
    cpus: float
    pids: int


@dataclass(frozen=True)
class PodSize:
    """What a whole pod reserves on the machine that hosts it (all its containers together):
    a backend that places pods on machines (Swarm) places by it; Docker on one machine leaves
    that to admission."""

    memory_bytes: int
    cpus: float


@dataclass(frozen=True)
class ContainerSpec:
    """Everything needed to create one container in a pod.

    ``volumes`` maps a volume name (created on demand, labelled with the run) to a mount path.
    ``tmpfs`` maps a mount path to tmpfs options. The root filesystem is read-only unless
    ``read_only`` is False.
    """

    role: str
    image: str
    limits: Limits
    command: Sequence[str] | None = None
    user: str = CANDIDATE_USER
    workdir: str = "/workspace"
    env: Mapping[str, str] = field(default_factory=dict)
    volumes: Mapping[str, str] = field(default_factory=dict)
    tmpfs: Mapping[str, str] = field(default_factory=dict)
    read_only: bool = True
    cpuset: str | None = None
    restart_retries: int = 0
    """How many times the engine restarts the command when it exits with an error (0: never)."""


@dataclass(frozen=True)
class ExecResult:
    """What a command run with :meth:`Sandbox.exec` produced."""

    exit_code: int
    stdout: str
    stderr: str
    duration_s: float

    @property
    def ok(self) -> bool:
        return self.exit_code == 0


@dataclass(frozen=True)
class Usage:
    """What a container's cgroup measured, raw, since the container was created. The engine
    gives each restart a fresh cgroup: ``cpu_seconds`` and ``memory_peak_bytes`` carry over
    what earlier starts used as far as it was read (what a killed start used after the last
    reading is lost), ``memory_bytes_now`` is the current start's. Memory is the cgroup's
    usage, page cache included (what counts against the limit before reclaim)."""

    cpu_seconds: float
    memory_bytes_now: int
    memory_peak_bytes: int
    oom_kills: int
    restarts: int


@dataclass(frozen=True)
class PublishedPort:
    """A port of the pod made reachable on the host's loopback interface."""

    inner_port: int
    host: str
    host_port: int

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.host_port}"


class Sandbox(ABC):
    """One container of a run."""

    role: str
    name: str

    @abstractmethod
    def start(self) -> None:
        """Start the container's command. Raises ContainerError."""

    @abstractmethod
    def exec(
        self,
        cmd: Sequence[str],
        *,
        user: str | None = None,
        workdir: str | None = None,
        env: Mapping[str, str] | None = None,
        timeout: float = 60.0,
    ) -> ExecResult:
        """Run a command in the running container and wait for it.

        Output is capped (the tail is kept). Raises ExecTimeout when ``timeout`` passes (the
        command is killed) and ContainerError when the container is not running.
        """

    @abstractmethod
    def put_archive(self, path: str, tar_bytes: bytes) -> None:
        """Extract a tar archive at ``path`` inside the container. Raises ContainerError."""

    @abstractmethod
    def archive_chunks(self, path: str) -> Generator[bytes, None, None]:
        """``path`` of the container (running or stopped) as a tar stream, in chunks.

        Raises ContainerError, when the first chunk is asked for, if the path is missing.
        """

    def get_archive(self, path: str, dest: str, *, max_bytes: int) -> int:
        """Write ``path`` from the container as a tar archive to the host file ``dest``
        (fsync'd). Returns the archive's size. Raises ContainerError when the path is missing
        or the archive would exceed ``max_bytes`` (``dest`` is then removed)."""
        size = 0
        with open(dest, "wb") as fh:
            for chunk in self.archive_chunks(path):
                size += len(chunk)
                if size > max_bytes:
                    fh.close()
                    os.unlink(dest)
                    raise ContainerError(
                        f"{self.name}:{path} is larger than the limit of {max_bytes} bytes"
                    )
                fh.write(chunk)
            fh.flush()
            os.fsync(fh.fileno())
        return size

    @abstractmethod
    def read_file(self, path: str, *, max_bytes: int = 16 * 2**20) -> bytes:
        """Read one regular file from the container. Raises ContainerError."""

    @abstractmethod
    def logs(self, tail: int = 200) -> str:
        """The last ``tail`` lines the container's command printed."""

    @abstractmethod
    def state(self) -> str:
        """The engine's word for the container's state: created, running, exited, ..."""

    @abstractmethod
    def exit_code(self) -> int | None:
        """The exit code of the container's command, or None while it runs."""

    @abstractmethod
    def usage(self) -> Usage:
        """The container's resource use (zeros for what it does not measure while stopped).
        Safe to call from another thread; may take up to a second (Docker's stats collector
        ticks each second). Raises ContainerError when the engine cannot say."""

    @abstractmethod
    def restart(self) -> None:
        """Start the container's command again after it exited. Raises ContainerError."""

    @abstractmethod
    def stop(self, timeout: float = 5.0) -> None:
        """Stop the container; a stopped container keeps its files and volumes."""


class Pod(ABC):
    """A run's private network namespace and the containers in it."""

    run_id: str
    purpose: str

    @abstractmethod
    def add(self, spec: ContainerSpec) -> Sandbox:
        """Create (not start) a container in the pod. Raises ImageError, ContainerError."""

    @abstractmethod
    def containers(self) -> list[Sandbox]:
        """The containers created in this pod so far, in creation order."""

    def member(self, role: str) -> Sandbox | None:
        """The pod's container with ``role``, or None when it has none."""
        return next((box for box in self.containers() if box.role == role), None)

    @abstractmethod
    def wait_http(self, port: int, path: str, *, timeout: float) -> float:
        """Wait until ``GET http://127.0.0.1:port/path`` inside the pod answers 2xx.

        Returns the seconds waited. Raises ServiceNotReady on timeout.
        """

    @abstractmethod
    def wait_port(self, port: int, *, timeout: float) -> float:
        """Wait until something accepts TCP connections on ``127.0.0.1:port`` inside the pod.

        Returns the seconds waited. Raises ServiceNotReady on timeout.
        """

    @abstractmethod
    def publish(self, port: int) -> PublishedPort:
        """Make ``port`` inside the pod reachable on the host's 127.0.0.1 (and nowhere else)."""

    def unpublish(self, published: PublishedPort) -> None:  # noqa: B027 (optional for backends)
        """Stop a forward made by this pod's :meth:`publish` (nothing when it is unknown)."""

    def lost(self) -> str | None:
        """Why the pod is gone for good under the run (the machine hosting it went down), or
        None while it stands. Never raises; a pod on this machine is never lost this way."""
        return None

    @abstractmethod
    def remove(self) -> None:
        """Remove every container, volume and forward of the pod. Never raises for leftovers
        that are already gone."""


class Backend(ABC):
    """A container engine that can host pods."""

    @abstractmethod
    def create_pod(
        self,
        run_id: str,
        purpose: str,
        *,
        hosts: Sequence[str] = (),
        size: PodSize | None = None,
        on_wait: Callable[[str], None] | None = None,
    ) -> Pod:
        """Create a pod for a run (``purpose``: "workspace", "evaluation", ...).

        Each name in ``hosts`` resolves to the pod's loopback inside it, so services started in
        the pod are reachable by name. ``size`` is what the pod reserves where the backend
        places pods (None: the backend's default). When no machine has room yet, a backend
        that can wait calls ``on_wait`` once with the reason and returns once the pod is
        placed. Raises ImageError, ContainerError.
        """

    @abstractmethod
    def attach_pod(self, run_id: str, purpose: str) -> Pod | None:
        """Find the existing pod of a run, e.g. after a runner restart; None when gone."""

    @abstractmethod
    def run_ids_with_leftovers(self) -> set[str]:
        """Run ids that still own containers or volumes."""

    @abstractmethod
    def remove_run(self, run_id: str, *, keep_volumes: bool = False) -> int:
        """Remove everything labelled with the run; returns how many objects were removed."""
