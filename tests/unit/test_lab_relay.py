"""``prodproven lab``'s relay (runner/web/lab_relay.py, over the proxy core unguarded):
everything under the lab's base URL reaches the run's lab as the browser sent it, JupyterLab
doing every check; terminals are recorded into the run's data directory; a lab that cannot be
reached is asked for again; ``serve`` listens on 127.0.0.1 only and prints the lab's URL with
its token. The lab is a real upstream on loopback (tests/unit/upstreamsupport.py) that answers
only with a token and echoes what it got."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from starlette.testclient import TestClient
from starlette.websockets import WebSocket

from prodproven.runner.errors import RunStateError
from prodproven.runner.runs import recording
from prodproven.runner.runs.lab import LAB_BASE_URL, LabLink
from prodproven.runner.runs.workspace import RunPaths
from prodproven.runner.web import lab_relay
from prodproven.runner.web.lab_relay import RunLab, relay_app
from prodproven.runner.web.proxy import record_lab
from tests.conftest import free_port
from tests.unit.fakes import as_runner
from tests.unit.test_web_proxy_recording import terminado
from tests.unit.upstreamsupport import Upstream

RUN = "r1"
TOKEN = {"Authorization": "token t-r1"}  # what JupyterLab's own pages send
OWN = "http://testserver"  # the test client's origin: the relay's own


@dataclass
class Labs:
    """Stands in for the Runner: run RUN's lab is at ``port``; ``over`` once the run is no
    longer running."""

    root: Path
    port: int
    over: bool = False
    asked: list[str] = field(default_factory=list)
    events: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)

    def lab(self, run_id: str) -> LabLink:
        self.asked.append(run_id)
        if self.over:
            raise RunStateError(f"run {run_id} is submitted; its JupyterLab is gone")
        url = f"http://127.0.0.1:{self.port}{LAB_BASE_URL}lab?token=t-{run_id}"
        return LabLink(url=url, port=self.port, token=f"t-{run_id}")

    def paths(self, run_id: str) -> RunPaths:
        return RunPaths(self.root / run_id)

    def event(self, run_id: str, kind: str, data: dict[str, Any]) -> None:
        self.events.append((run_id, kind, data))


async def handshake(websocket: WebSocket) -> None:
    """Sends back the headers of its handshake."""
    await websocket.accept()
    await websocket.send_text(json.dumps(dict(websocket.headers)))
    await websocket.close()


@pytest.fixture
def upstream() -> Iterator[Upstream]:
    server = Upstream("lab", LAB_BASE_URL)
    server.serve_websockets({"terminals/websocket/{name}": terminado, "handshake": handshake})
    yield server
    server.stop()


def relay(labs: Labs, first_port: int | None = None) -> TestClient:
    """The relay of run RUN, whose first link is at ``first_port`` (default: the lab's)."""
    link = labs.lab(RUN)
    if first_port is not None:
        link = LabLink(url=link.url, port=first_port, token=link.token)
    labs.asked.clear()
    runner = as_runner(labs)
    app = relay_app(
        RunLab(runner, RUN, link), lambda _, target, path: record_lab(runner, 1, target, path)
    )
    return TestClient(app)


@pytest.fixture
def labs(tmp_path: Path, upstream: Upstream) -> Labs:
    return Labs(tmp_path / "runs", upstream.port)


def test_a_request_reaches_the_lab_as_the_browser_sent_it(labs: Labs) -> None:
    """Path, query, body and the browser's token go up; the relay's own origin in Origin and
    Referer becomes the lab's, so JupyterLab's checks (against Host) see a request to itself."""
    with relay(labs) as browser:
        echoed = browser.post(
            f"{LAB_BASE_URL}api/contents/a%20b?x=1",
            content=b"{}",
            headers={
                **TOKEN,
                "Origin": OWN,
                "Referer": f"{OWN}{LAB_BASE_URL}lab",
                "Cookie": "_xsrf=2|x; pp_session=app",
            },
        )
    assert echoed.status_code == 200
    got = echoed.json()
    assert (got["method"], got["path"], got["query"], got["body"]) == (
        "POST",
        f"{LAB_BASE_URL}api/contents/a%20b",
        "x=1",
        "{}",
    )
    lab = f"http://127.0.0.1:{labs.port}"
    headers = got["headers"]
    assert headers["authorization"] == "token t-r1"
    assert headers["host"] == f"127.0.0.1:{labs.port}"
    assert headers["origin"] == lab
    assert headers["referer"] == f"{lab}{LAB_BASE_URL}lab"
    assert headers["cookie"] == "_xsrf=2|x"  # a web app's session on this host stays here


def test_the_relay_checks_nothing_itself(labs: Labs, upstream: Upstream) -> None:
    """Another site's Origin goes up as it is (JupyterLab refuses it for a cookie session);
    without the token the lab refuses, and the relay adds none."""
    with relay(labs) as browser:
        foreign = browser.post(
            f"{LAB_BASE_URL}api/terminals", headers={**TOKEN, "Origin": "https://evil.test"}
        )
        assert foreign.status_code == 200
        assert foreign.json()["headers"]["origin"] == "https://evil.test"
        refused = browser.get(f"{LAB_BASE_URL}api/status")
    assert (refused.status_code, refused.text) == (403, "forbidden")
    assert upstream.tokens[-1] == ""


def test_the_labs_cookies_go_to_the_browser_and_are_never_kept_by_the_relay(labs: Labs) -> None:
    """Else the next request without cookies (another client, without the token) would go up
    with the first one's login."""
    with relay(labs) as browser:
        first = browser.get(f"{LAB_BASE_URL}lab?token=t-r1", headers=TOKEN)
        assert first.cookies.get("_xsrf") == "2|abc"
        browser.cookies.clear()
        second = browser.get(f"{LAB_BASE_URL}api/status", headers=TOKEN)
    assert "cookie" not in second.json()["headers"]


def test_only_the_labs_base_url_is_relayed(labs: Labs, upstream: Upstream) -> None:
    with relay(labs) as browser:
        assert browser.get("/elsewhere", headers=TOKEN).status_code == 404
        assert browser.get("/candidate/tools/mlflow/", headers=TOKEN).status_code == 404
    assert upstream.tokens == []


def test_a_terminal_is_recorded_into_the_runs_data_directory(labs: Labs) -> None:
    with (
        relay(labs) as browser,
        browser.websocket_connect(f"{LAB_BASE_URL}terminals/websocket/1", headers=TOKEN) as ws,
    ):
        assert json.loads(ws.receive_text()) == ["setup", {}]
        ws.send_text(json.dumps(["stdin", "echo relay-recorded\r"]))
        assert json.loads(ws.receive_text()) == ["stdout", "$ echo relay-recorded\r\r\n"]
    cast = recording.recordings_dir(labs.paths(RUN).root) / "terminal-1-1.cast"
    header, *events = [json.loads(line) for line in cast.read_text().splitlines()]
    assert header["version"] == 2
    assert [e[1:] for e in events] == [
        ["i", "echo relay-recorded\r"],
        ["o", "$ echo relay-recorded\r\r\n"],
    ]


def test_a_websockets_handshake_carries_the_token_and_the_origin_made_the_labs(
    labs: Labs,
) -> None:
    with (
        relay(labs) as browser,
        browser.websocket_connect(
            f"{LAB_BASE_URL}handshake", headers={**TOKEN, "Origin": OWN, "Cookie": "pp_a=1; b=2"}
        ) as ws,
    ):
        headers = json.loads(ws.receive_text())
    assert headers["authorization"] == "token t-r1"
    assert headers["origin"] == f"http://127.0.0.1:{labs.port}"
    assert headers["cookie"] == "b=2"


def test_a_lab_that_cannot_be_reached_is_asked_for_again(labs: Labs) -> None:
    with relay(labs, first_port=free_port()) as browser:
        first = browser.get(f"{LAB_BASE_URL}api/status", headers=TOKEN)
        second = browser.get(f"{LAB_BASE_URL}api/status", headers=TOKEN)
    assert (first.status_code, second.status_code) == (200, 200)
    assert labs.asked == [RUN]  # once: the second request goes to the new link


def test_a_run_no_longer_running_is_answered_in_plain_text(labs: Labs) -> None:
    with relay(labs, first_port=free_port()) as browser:
        labs.over = True
        answer = browser.get(f"{LAB_BASE_URL}lab", headers=TOKEN)
    assert (answer.status_code, answer.text) == (409, "run r1 is submitted; its JupyterLab is gone")


def test_serve_listens_on_loopback_only_and_tells_the_labs_url_with_its_token(
    labs: Labs, monkeypatch: pytest.MonkeyPatch
) -> None:
    servers: list[uvicorn.Server] = []

    class Kept(uvicorn.Server):
        def __init__(self, config: uvicorn.Config) -> None:
            super().__init__(config)
            servers.append(self)

    monkeypatch.setattr(uvicorn, "Server", Kept)
    told: list[str] = []
    link = labs.lab(RUN)
    thread = threading.Thread(
        target=lab_relay.serve, args=(as_runner(labs), RUN, link, 1, told.append), daemon=True
    )
    thread.start()
    deadline = time.monotonic() + 10
    while not (servers and servers[0].started):
        assert time.monotonic() < deadline and thread.is_alive(), "the relay did not start"
        time.sleep(0.02)
    try:
        [url] = told
        port = httpx.URL(url).port
        assert url == f"http://127.0.0.1:{port}{LAB_BASE_URL}lab?token=t-r1"
        page = httpx.get(url, headers=TOKEN, trust_env=False)
        assert page.status_code == 200 and page.json()["query"] == "token=t-r1"
        with pytest.raises(ConnectionRefusedError):  # another loopback address: not bound
            socket.create_connection(("127.0.0.2", port), timeout=5).close()
    finally:
        servers[0].should_exit = True
        thread.join(timeout=15)
    assert not thread.is_alive()
