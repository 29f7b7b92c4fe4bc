"""Shared by the JupyterLab tests (tests/integration/test_lab*.py): plain HTTP to a lab's
loopback port, its WebSocket, and the lab servers running in a container."""

from __future__ import annotations

import http.client

from tornado.httpclient import HTTPRequest
from tornado.websocket import WebSocketClientConnection, websocket_connect

from prodproven.runner.runs.lab import LAB_BASE_URL
from prodproven.sandbox.environment import Sandbox

B = LAB_BASE_URL.rstrip("/")  # every path of the lab starts with it
LAB_PIDS = r"""
import os
for pid in os.listdir("/proc"):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            args = fh.read().split(b"\0")
        if len(args) > 2 and args[2] == b"/opt/lab/bin/jupyter-lab":
            with open(f"/proc/{pid}/status") as st:
                fields = dict(line.split(":", 1) for line in st)
            print(pid, fields["Uid"].split()[0], fields["VmRSS"].split()[0])
    except (OSError, ValueError):
        pass
"""


def get(port: int, path: str, headers: dict[str, str] | None = None) -> tuple[int, str, bytes]:
    """One request, redirects not followed: status, Location header, body."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("GET", path, headers=headers or {})
        response = conn.getresponse()
        return response.status, response.getheader("Location") or "", response.read()
    finally:
        conn.close()


def post(port: int, path: str) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("POST", path, body=b"{}", headers={"Content-Type": "application/json"})
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def lab_processes(workspace: Sandbox) -> list[tuple[int, int, int]]:
    """(pid, uid, RSS in kB) of every JupyterLab server in the container."""
    out = workspace.exec(["python3", "-c", LAB_PIDS], timeout=20).stdout
    return [(int(p), int(u), int(r)) for p, u, r in (line.split() for line in out.splitlines())]


async def websocket(url: str, port: int) -> WebSocketClientConnection:
    request = HTTPRequest(url, headers={"Origin": f"http://127.0.0.1:{port}"}, connect_timeout=30)
    return await websocket_connect(request)
