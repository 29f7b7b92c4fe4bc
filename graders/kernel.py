"""Drive a Jupyter kernel that runs inside a sandbox, from the runner's process.

The kernel (ipykernel) listens on the pod's loopback; its five ZeroMQ ports are published on
the host's 127.0.0.1, and ``jupyter_client`` talks to them from here. The grading logic stays in
the runner; the candidate's code only ever runs in the kernel's container.
"""

from __future__ import annotations

import queue
import secrets
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from jupyter_client.blocking.client import BlockingKernelClient
from nbformat.v4 import output_from_msg

from prodproven.graders.base import GraderError

CHANNELS = ("shell_port", "iopub_port", "stdin_port", "control_port", "hb_port")
POLL_S = 1.0


@dataclass(frozen=True)
class KernelPorts:
    """The ports the kernel listens on inside the pod, and the key that signs messages."""

    ports: Mapping[str, int]
    key: str = field(default_factory=lambda: secrets.token_hex(16))

    @classmethod
    def starting_at(cls, first: int) -> KernelPorts:
        return cls({name: first + i for i, name in enumerate(CHANNELS)})

    def connection_file(self) -> dict[str, Any]:
        """The connection file for the kernel, inside the pod."""
        return {
            **self.ports,
            "ip": "127.0.0.1",
            "key": self.key,
            "transport": "tcp",
            "signature_scheme": "hmac-sha256",
            "kernel_name": "python3",
        }


@dataclass
class Execution:
    """All cells' runs, and how long the kernel took to answer."""

    cells: list[CellRun]
    startup_s: float


@dataclass
class CellRun:
    """What re-executing one code cell gave. ``status``: ok, error, timeout, died, skipped."""

    index: int
    status: str
    outputs: list[dict[str, Any]] = field(default_factory=list)
    duration_s: float = 0.0
    error: dict[str, str] | None = None


def execute_cells(
    kernel: KernelPorts,
    addresses: Mapping[int, tuple[str, int]],
    cells: Sequence[tuple[int, str]],
    *,
    cell_timeout_s: float,
    total_timeout_s: float,
    startup_timeout_s: float,
    alive: Callable[[], bool],
) -> Execution:
    """Execute ``cells`` ((index, source) pairs) in order in the kernel behind ``addresses``.

    A cell that raises is recorded and the next cell still runs, as in a notebook run with
    errors allowed. After a timeout or the kernel's death the remaining cells are skipped.
    Raises GraderError when the kernel never becomes ready.
    """
    client = BlockingKernelClient()
    host = next(iter(addresses.values()))[0]
    info: dict[str, Any] = {name: addresses[port][1] for name, port in kernel.ports.items()}
    info.update(ip=host, key=kernel.key.encode(), transport="tcp", signature_scheme="hmac-sha256")
    client.load_connection_info(info)  # type: ignore[arg-type]
    # No heartbeat channel: without it the client judges liveness by replies, and we check
    # the container itself through ``alive``.
    client.start_channels(hb=False)
    started = time.monotonic()
    try:
        try:
            client.wait_for_ready(timeout=startup_timeout_s)
        except RuntimeError as exc:
            raise GraderError(
                f"the notebook kernel did not start within {startup_timeout_s:.0f}s"
            ) from exc
        startup_s = round(time.monotonic() - started, 2)
        deadline = time.monotonic() + total_timeout_s
        runs: list[CellRun] = []
        stopped = False
        for index, source in cells:
            if stopped or time.monotonic() >= deadline:
                runs.append(CellRun(index, "skipped"))
                continue
            run = _execute(client, index, source, cell_timeout_s, deadline, alive)
            runs.append(run)
            stopped = run.status in ("timeout", "died")
        return Execution(runs, startup_s)
    finally:
        client.stop_channels()


def _execute(
    client: BlockingKernelClient,
    index: int,
    source: str,
    cell_timeout_s: float,
    deadline: float,
    alive: Callable[[], bool],
) -> CellRun:
    started = time.monotonic()
    until = min(started + cell_timeout_s, deadline)
    msg_id = client.execute(source, store_history=True, allow_stdin=False, stop_on_error=False)
    run = CellRun(index, "ok")
    while True:
        if time.monotonic() >= until:
            run.status = "timeout"
            break
        try:
            msg = client.get_iopub_msg(timeout=POLL_S)
        except queue.Empty:
            if not alive():
                run.status = "died"
                break
            continue
        if msg.get("parent_header", {}).get("msg_id") != msg_id:
            continue
        kind = msg["msg_type"]
        if kind == "status" and msg["content"].get("execution_state") == "idle":
            break
        if kind in ("stream", "display_data", "execute_result", "error"):
            run.outputs.append(output_from_msg(msg))
        if kind == "error":
            run.status = "error"
            run.error = {
                "ename": str(msg["content"].get("ename", "")),
                "evalue": str(msg["content"].get("evalue", ""))[:2000],
            }
    run.duration_s = round(time.monotonic() - started, 3)
    return run
