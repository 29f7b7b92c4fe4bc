"""Recording a real run's work through the web app's lab proxy (runner/runs/recording.py wired
in runner/web/proxy.py), against the real engine: a JupyterLab terminal into an asciicast file,
a cell executed over the kernel's channel into cells.jsonl, both archived at submit; and, as
the candidate inside the workspace, the recordings can be neither reached nor stopped.

The run, the lab and ``prodproven serve`` are test_lab.py's fixtures (a run of the SLO lab).
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from tornado.httpclient import HTTPRequest
from tornado.websocket import websocket_connect

from prodproven.runner.lifecycle.core import Runner
from prodproven.runner.runs import recording
from prodproven.runner.runs.archives import sha256_of
from prodproven.runner.runs.store import Run
from tests.integration import test_lab
from tests.integration.labsupport import B, lab_processes
from tests.unit.test_recording import v1_frame

pytestmark = pytest.mark.docker

V1 = "v1.kernel.websocket.jupyter.org"
proxied_terminal = test_lab.proxied_terminal
# test_lab.py's module fixtures, made again for this module: a run of its own, and serve
lab_runner = test_lab.lab_runner
slo_lab = test_lab.slo_lab
running = test_lab.running
web_candidate = test_lab.web_candidate


KILL_SHELLS_AND_KERNELS = r"""
import os
for pid in os.listdir("/proc"):
    if pid.isdigit() and int(pid) != os.getpid():
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as fh:
                command = fh.read().split(b"\0")
            if os.path.basename(command[0]) in (b"bash", b"sh") or b"ipykernel" in command[2:3]:
                os.kill(int(pid), 9)
        except (OSError, IndexError):
            pass
"""
"""Kill every terminal's shell and every kernel the candidate may signal."""


def casts(where: Path) -> dict[str, list[Any]]:
    """Each cast file's lines, by file name."""
    return {
        path.name: [json.loads(line) for line in path.read_text().splitlines()]
        for path in sorted(where.glob("terminal-*.cast"))
    }


def new_terminal(client: httpx.Client, base: str) -> str:
    made = client.post(f"{B}/api/terminals", headers={"Origin": base})
    assert made.status_code == 200, made.text
    name: str = made.json()["name"]
    return name


async def execute(base: str, cookies: httpx.Cookies, kernel: str, code: str) -> bytes:
    """Execute ``code`` over the kernel's channel through the web app; its execute_reply."""
    cookie = "; ".join(f"{key}={value}" for key, value in cookies.items())
    url = base.replace("http://", "ws://") + f"{B}/api/kernels/{kernel}/channels"
    request = HTTPRequest(url, headers={"Origin": base, "Cookie": cookie}, connect_timeout=30)
    ws = await websocket_connect(request, subprotocols=[V1])
    header = {
        "msg_id": uuid.uuid4().hex,
        "msg_type": "execute_request",
        "session": "s",
        "username": "ada",
        "version": "5.3",
        "date": "2026-01-01T00:00:00Z",
    }
    content = {"code": code, "silent": False, "store_history": True, "user_expressions": {}}
    ws.write_message(v1_frame("shell", header, {}, content), binary=True)
    deadline = time.monotonic() + 60
    while True:
        assert time.monotonic() < deadline, "no execute_reply"
        message = await asyncio.wait_for(ws.read_message(), timeout=60)
        assert message is not None, "the kernel's channel closed"
        if isinstance(message, bytes) and b"execute_reply" in message:
            ws.close()
            return message


def test_a_terminal_and_a_cell_through_the_proxy_are_recorded_and_archived(
    web_candidate: tuple[str, httpx.Client], lab_runner: Runner, running: Run
) -> None:
    base, client = web_candidate
    where = recording.recordings_dir(lab_runner.paths(running.id).root)
    name = new_terminal(client, base)
    printed = asyncio.run(proxied_terminal(base, client.cookies, name, "echo hello"))
    assert "hello" in printed
    [(file, (header, *events))] = [
        (f, lines) for f, lines in casts(where).items() if f.startswith(f"terminal-{name}-")
    ]
    assert header["version"] == 2 and name in header["title"]
    assert any(e[1] == "i" and "echo hello" in e[2] for e in events)
    assert "hello\r\n" in "".join(e[2] for e in events if e[1] == "o")
    times = [e[0] for e in events]
    assert times == sorted(times) and times[-1] > times[0], file

    started = client.post(f"{B}/api/kernels", json={"name": "python3"}, headers={"Origin": base})
    assert started.status_code in (200, 201), started.text
    kernel = started.json()["id"]
    reply = asyncio.run(execute(base, client.cookies, kernel, "6 * 7"))
    assert b'"status": "ok"' in reply or b'"status":"ok"' in reply
    cells = [json.loads(line) for line in (where / "cells.jsonl").read_text().splitlines()]
    assert [(c["kernel"], c["code"], c["status"]) for c in cells[-2:]] == [
        (kernel, "6 * 7", "started"),
        (kernel, "6 * 7", "ok"),
    ]


def test_the_candidate_can_neither_reach_nor_stop_the_recording(
    web_candidate: tuple[str, httpx.Client], lab_runner: Runner, running: Run
) -> None:
    """From inside the workspace no recording is visible; killing the candidate's shells and
    kernels and deleting what they may delete does not stop the next command's recording
    (the recorder is the web app's process on the host, the files are in its data
    directory)."""
    base, client = web_candidate
    where = recording.recordings_dir(lab_runner.paths(running.id).root)
    _, workspace = lab_runner.workspace(running.id)
    looked = workspace.exec(
        ["sh", "-c", "find / -xdev \\( -name '*.cast' -o -name cells.jsonl \\) 2>/dev/null"],
        timeout=60,
        user="1000",
    )
    assert looked.stdout.strip() == ""
    assert str(where) not in workspace.exec(["cat", "/proc/mounts"], timeout=10).stdout
    name = new_terminal(client, base)
    asyncio.run(proxied_terminal(base, client.cookies, name, "rm -rf /workspace/* /tmp/* ~/.local"))
    killed = workspace.exec(["python3", "-c", KILL_SHELLS_AND_KERNELS], timeout=20, user="1000")
    assert killed.ok, killed.stdout
    assert len(lab_processes(workspace)) == 1
    after = new_terminal(client, base)
    asyncio.run(proxied_terminal(base, client.cookies, after, "echo still-recorded"))
    recorded = [lines for f, lines in casts(where).items() if f.startswith(f"terminal-{after}-")]
    assert any("echo still-recorded" in e[2] for lines in recorded for e in lines[1:])


def test_the_recordings_are_archived_at_submit(lab_runner: Runner, running: Run) -> None:
    lab_runner.submit(running.id)
    root = lab_runner.paths(running.id).root
    [archived] = [e for e in lab_runner.store.events(running.id) if e.kind == "recordings.archived"]
    assert archived.data["sha256"] == sha256_of(root / recording.ARCHIVE)
    assert archived.data["files"] >= 2
