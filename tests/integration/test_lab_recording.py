"""``prodproven lab RUN`` against the real engine: the CLI, in a process of its own, serves the
run's JupyterLab through its recording relay (runner/web/lab_relay.py); the URL it prints opens
the lab, a terminal driven over the relay's WebSocket is recorded into the run's data directory,
JupyterLab's own checks still judge a browser's cookie session (the relay's origin passes,
another site's is refused), and Ctrl-C stops it.

The run is test_lab.py's (a run of the SLO lab), made again for this module.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
from tornado.httpclient import HTTPRequest
from tornado.websocket import websocket_connect

from prodproven.runner.lifecycle.core import Runner
from prodproven.runner.runs import recording
from prodproven.runner.runs.store import Run
from tests.integration import test_lab
from tests.integration.labsupport import B, websocket
from tests.integration.test_recording import casts

pytestmark = pytest.mark.docker

# test_lab.py's module fixtures, made again for this module: a run of its own
lab_runner = test_lab.lab_runner
slo_lab = test_lab.slo_lab
running = test_lab.running


@dataclass
class Relayed:
    """``prodproven lab RUN`` running: its process, the URL it printed, the relay's origin and
    the lab's token."""

    process: subprocess.Popen[str]
    url: str
    origin: str
    token: str


@pytest.fixture(scope="module")
def relayed(lab_runner: Runner, running: Run) -> Iterator[Relayed]:
    """The CLI's ``lab`` over the run's data directory, until its URL is printed; killed at
    the end if a test did not stop it."""
    process = subprocess.Popen(
        [sys.executable, "-m", "prodproven.runner.cli", "lab", running.id],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PRODPROVEN_DATA_DIR": str(lab_runner.settings.data_dir)},
    )
    assert process.stdout is not None
    url = ""
    while not url.startswith("http://"):
        line = process.stdout.readline()
        assert line, f"prodproven lab printed no URL: {process.communicate(timeout=30)}"
        url = line.strip()
    parsed = httpx.URL(url)
    yield Relayed(process, url, f"http://127.0.0.1:{parsed.port}", parsed.params["token"])
    if process.poll() is None:
        process.kill()
        process.communicate(timeout=30)


def test_the_printed_url_opens_the_lab_through_the_relay(
    relayed: Relayed, lab_runner: Runner, running: Run
) -> None:
    assert relayed.url == f"{relayed.origin}{B}/lab?token={relayed.token}"
    assert relayed.origin != f"http://127.0.0.1:{lab_runner.lab(running.id).port}"
    page = httpx.get(relayed.url, trust_env=False, timeout=60)
    assert page.status_code == 200 and "JupyterLab" in page.text


def test_a_terminal_over_the_relay_is_recorded(
    relayed: Relayed, lab_runner: Runner, running: Run
) -> None:
    made = httpx.post(
        f"{relayed.origin}{B}/api/terminals",
        params={"token": relayed.token},
        trust_env=False,
        timeout=60,
    )
    assert made.status_code == 200, made.text
    name = made.json()["name"]
    port = httpx.URL(relayed.origin).port
    assert port is not None
    url = f"ws://127.0.0.1:{port}{B}/terminals/websocket/{name}?token={relayed.token}"
    printed = asyncio.run(typed_over(url, port, "echo relay-recorded"))
    assert "relay-recorded\r\n" in printed
    where = recording.recordings_dir(lab_runner.paths(running.id).root)
    [(header, *events)] = [
        lines for file, lines in casts(where).items() if file == f"terminal-{name}-1.cast"
    ]
    assert header["version"] == 2 and name in header["title"]
    assert any(e[1] == "i" and "echo relay-recorded" in e[2] for e in events)
    assert "relay-recorded\r\n" in "".join(e[2] for e in events if e[1] == "o")


async def typed_over(url: str, port: int, command: str) -> str:
    return await test_lab.typed(await websocket(url, port), command)


def test_jupyterlab_still_judges_a_cookie_session_by_its_origin(relayed: Relayed) -> None:
    """As a browser: the printed URL's page sets JupyterLab's login and XSRF cookies; then,
    without the token, the relay's own origin passes JupyterLab's Origin check and another
    site's is refused, over HTTP and WebSocket."""
    with httpx.Client(base_url=relayed.origin, trust_env=False, timeout=60) as browser:
        assert browser.get(relayed.url).status_code == 200
        xsrf = {"X-XSRFToken": browser.cookies["_xsrf"]}
        own = browser.post(f"{B}/api/terminals", headers={**xsrf, "Origin": relayed.origin})
        assert own.status_code == 200, own.text
        other = browser.post(f"{B}/api/terminals", headers={**xsrf, "Origin": "https://evil.test"})
        assert other.status_code in (403, 404), other.text  # JupyterLab hides the API: 404
        cookie = "; ".join(f"{key}={value}" for key, value in browser.cookies.items())
    name = own.json()["name"]
    port = httpx.URL(relayed.origin).port
    ws_url = f"ws://127.0.0.1:{port}{B}/terminals/websocket/{name}"
    printed = asyncio.run(cookie_terminal(ws_url, cookie, relayed.origin, "echo by-cookie"))
    assert "by-cookie\r\n" in printed
    with pytest.raises(Exception, match="403"):
        asyncio.run(cookie_terminal(ws_url, cookie, "https://evil.test", "true"))
    stranger = httpx.get(f"{relayed.origin}{B}/api/status", trust_env=False, timeout=60)
    assert stranger.status_code == 403  # the session's cookies stayed with its browser


async def cookie_terminal(url: str, cookie: str, origin: str, command: str) -> str:
    request = HTTPRequest(url, headers={"Origin": origin, "Cookie": cookie}, connect_timeout=30)
    return await test_lab.typed(await websocket_connect(request), command)


def test_ctrl_c_stops_the_relay(relayed: Relayed) -> None:
    relayed.process.send_signal(signal.SIGINT)
    out, err = relayed.process.communicate(timeout=60)
    assert relayed.process.returncode == 0, err
    assert "stopped" in out and "Traceback" not in err
    with pytest.raises(httpx.ConnectError):
        httpx.get(relayed.url, trust_env=False, timeout=10)
