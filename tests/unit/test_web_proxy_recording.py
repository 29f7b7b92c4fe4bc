"""The lab proxy records the candidate's terminals and cell executions as their frames pass
(runner/web/proxy.py's ``recorder`` over runner/web/upstream_ws.py's observers), into the run's
data directory, against a stand-in lab speaking terminado's and the kernel's protocols; and
the candidate is told what is recorded before starting."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.websockets import WebSocket, WebSocketDisconnect

from prodproven.runner.portal.access import Actor
from prodproven.runner.runs import recording
from prodproven.runner.runs.lab import LAB_BASE_URL
from tests.unit.test_recording import v1_frame
from tests.unit.test_web_proxy import ORIGIN, WS, LabRunner
from tests.unit.upstreamsupport import Upstream, running_candidate, web_over
from tests.unit.websupport import Web

V1 = "v1.kernel.websocket.jupyter.org"


async def terminado(websocket: WebSocket) -> None:
    """A terminal that echoes each ``stdin`` as ``stdout``."""
    await websocket.accept()
    await websocket.send_text(json.dumps(["setup", {}]))
    try:
        while True:
            message = json.loads(await websocket.receive_text())
            if message[0] == "stdin":
                await websocket.send_text(json.dumps(["stdout", f"$ {message[1]}\r\n"]))
    except WebSocketDisconnect:
        return


async def kernel(websocket: WebSocket) -> None:
    """A kernel channel answering each binary frame with ``execute_reply`` to ``m1``."""
    await websocket.accept(subprotocol=V1)
    try:
        while True:
            await websocket.receive_bytes()
            reply = {"msg_id": "r", "msg_type": "execute_reply"}
            await websocket.send_bytes(v1_frame("shell", reply, {"msg_id": "m1"}, {"status": "ok"}))
    except WebSocketDisconnect:
        return


@pytest.fixture
def upstream() -> Iterator[Upstream]:
    server = Upstream("lab", LAB_BASE_URL)
    server.serve_websockets(
        {"terminals/websocket/{name}": terminado, "api/kernels/{id}/channels": kernel}
    )
    yield server
    server.stop()


@pytest.fixture
def web(tmp_path: Path, upstream: Upstream) -> Web:
    return web_over(tmp_path, lambda store, runs: LabRunner(store, runs, default=upstream))


def recordings_of(web: Web, run_id: str) -> Path:
    return recording.recordings_dir(web.runner.paths(run_id).root)


def test_a_lab_terminal_is_recorded_into_the_runs_data_directory(web: Web) -> None:
    browser, run_id = running_candidate(web)
    with browser.websocket_connect(f"{WS}terminals/websocket/1", headers={"Origin": ORIGIN}) as ws:
        assert json.loads(ws.receive_text()) == ["setup", {}]
        ws.send_text(json.dumps(["set_size", 30, 100, 1, 1]))
        ws.send_text(json.dumps(["stdin", "echo hello\r"]))
        assert json.loads(ws.receive_text()) == ["stdout", "$ echo hello\r\r\n"]
    cast = recordings_of(web, run_id) / "terminal-1-1.cast"
    header, *events = [json.loads(line) for line in cast.read_text().splitlines()]
    assert header["version"] == 2
    assert [e[1:] for e in events] == [
        ["r", "100x30"],
        ["i", "echo hello\r"],
        ["o", "$ echo hello\r\r\n"],
    ]


def test_a_cell_execution_over_the_kernel_channel_is_logged(web: Web) -> None:
    browser, run_id = running_candidate(web)
    request = v1_frame("shell", {"msg_id": "m1", "msg_type": "execute_request"}, {}, {"code": "2"})
    with browser.websocket_connect(
        f"{WS}api/kernels/k9/channels?session_id=s", headers={"Origin": ORIGIN}, subprotocols=[V1]
    ) as ws:
        ws.send_bytes(request)
        ws.receive_bytes()
    cells = recordings_of(web, run_id) / "cells.jsonl"
    logged = [json.loads(line) for line in cells.read_text().splitlines()]
    assert [(c["kernel"], c["code"], c["status"]) for c in logged] == [
        ("k9", "2", "started"),
        ("k9", "2", "ok"),
    ]


def test_an_observer_that_fails_never_breaks_the_relay(
    web: Web, monkeypatch: pytest.MonkeyPatch
) -> None:
    class Broken:
        def frame(self, from_browser: bool, data: str | bytes) -> None:
            raise ValueError("a bug in the recorder")

        def close(self) -> None:
            raise OSError("and in closing it")

    monkeypatch.setattr(recording, "lab_observer", lambda *_: Broken())
    browser, _ = running_candidate(web)
    with browser.websocket_connect(f"{WS}terminals/websocket/1", headers={"Origin": ORIGIN}) as ws:
        ws.receive_text()
        for n in range(3):
            ws.send_text(json.dumps(["stdin", f"{n}"]))
            assert json.loads(ws.receive_text()) == ["stdout", f"$ {n}\r\n"]


def test_other_lab_websockets_are_not_recorded(web: Web) -> None:
    browser, run_id = running_candidate(web)
    with browser.websocket_connect(
        f"{WS}ws/api/events/subscribe", headers={"Origin": ORIGIN}
    ) as ws:
        assert ws.receive_text() == "hello from lab"
        ws.send_text("ping")
        assert ws.receive_text() == "PING"
    where = recordings_of(web, run_id)
    assert not where.exists() or not list(where.iterdir())


def test_the_candidate_is_told_what_is_recorded_before_starting(web: Web) -> None:
    _, link = web.portal.invitations.invite(
        Actor("lead@acme.test", "acme"), "deploy-model", "Dora", "dora@x.test"
    )
    page = web.candidate(link).get("/candidate").text
    told = page[page.index('data-testid="what-is-recorded"') : page.index("Start the challenge")]
    for what in ("every terminal", "every notebook cell", "snapshotted every minute"):
        assert what in told
    assert "assessors see it" in told
