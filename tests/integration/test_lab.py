"""JupyterLab in the workspace of a run, against the real engine: it starts with an interactive
run (never with a scripted one), answers only with the run's token under its base URL, its
terminal is a shell of the candidate in /workspace, a second open reuses the server and the
forward, the web app's proxy serves it to the candidate (saving a notebook, a terminal over its
WebSocket), and a submitted run has no lab.

The run is one of the SLO lab (tests/integration/labs/slo-lab, deploy-model's image). The lab
server in pods of its own (the notebooks' kernel, replacing a server, failing to start) is in
test_lab_server.py.
"""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator

import httpx
import pytest
import uvicorn
from tornado.httpclient import HTTPRequest
from tornado.websocket import WebSocketClientConnection, websocket_connect

from prodproven.runner import plugins
from prodproven.runner.config import Settings
from prodproven.runner.errors import RunStateError
from prodproven.runner.lifecycle.core import Runner
from prodproven.runner.portal.access import Actor
from prodproven.runner.portal.core import Portal
from prodproven.runner.runs.store import Run
from prodproven.runner.spec.challenge import Challenge, load_challenge
from prodproven.runner.web.app import create_app
from prodproven.sandbox.images import ImageBuilder
from tests.conftest import BUILTIN, SLO_LAB, free_port
from tests.integration.conftest import runner_for
from tests.integration.labsupport import B, get, lab_processes, post, websocket

pytestmark = pytest.mark.docker


@pytest.fixture(scope="module")
def lab_runner(
    images: ImageBuilder, runtime_image: str, tmp_path_factory: pytest.TempPathFactory
) -> Runner:
    settings = Settings.from_env(data_dir=tmp_path_factory.mktemp("lab-data"))
    return runner_for(settings, images, runtime_image)


@pytest.fixture(scope="module")
def slo_lab(tmp_path_factory: pytest.TempPathFactory) -> Challenge:
    root = tmp_path_factory.mktemp("labs") / "slo-lab"
    shutil.copytree(SLO_LAB, root)
    shutil.copytree(BUILTIN / "deploy-model" / "image", root / "image")
    return load_challenge(root, plugins.catalog())


@pytest.fixture(scope="module")
def running(lab_runner: Runner, slo_lab: Challenge) -> Iterator[Run]:
    """An interactive run of the lab; removed at the end whatever happened."""
    run = lab_runner.start(slo_lab, "ada", mode="interactive")
    yield run
    lab_runner.backend.remove_run(run.id)


async def terminal_session(port: int, token: str, name: str, command: str) -> str:
    """Type ``command`` in terminal ``name`` and return what it printed up to a marker."""
    ws = await websocket(f"ws://127.0.0.1:{port}{B}/terminals/websocket/{name}?token={token}", port)
    return await typed(ws, command)


async def typed(ws: WebSocketClientConnection, command: str) -> str:
    """Type ``command`` into a terminal's websocket; what it printed, up to a marker."""
    marker = uuid.uuid4().hex
    # The terminal echoes what is typed: the marker is printed whole but typed in two halves.
    ws.write_message(json.dumps(["stdin", f"{command}; echo {marker[:8]}''{marker[8:]}\r"]))
    seen = ""
    deadline = time.monotonic() + 30
    while marker not in seen:
        assert time.monotonic() < deadline, f"the terminal printed only {seen!r}"
        message = await asyncio.wait_for(ws.read_message(), timeout=30)
        assert message is not None, f"the terminal closed; it printed {seen!r}"
        kind, *payload = json.loads(message)
        if kind == "stdout":
            seen += payload[0]
    ws.close()
    return seen


# the interactive run ---------------------------------------------------------------------------
@pytest.mark.timing  # asserts how long the lab took to start
def test_an_interactive_run_starts_its_lab(lab_runner: Runner, running: Run) -> None:
    started = [e for e in lab_runner.store.events(running.id) if e.kind == "lab.started"]
    assert len(started) == 1 and started[0].data["ready_s"] < 60
    print(f"lab ready {started[0].data['ready_s']} s after the workspace started")


def test_the_lab_answers_only_with_the_runs_token(lab_runner: Runner, running: Run) -> None:
    link = lab_runner.lab(running.id)
    assert link.url == f"http://127.0.0.1:{link.port}{B}/lab?token={link.token}"
    status, _, body = get(link.port, f"{B}/api/status?token={link.token}")
    assert status == 200 and "started" in json.loads(body)
    status, _, _ = get(link.port, f"{B}/api/status", {"Authorization": f"token {link.token}"})
    assert status == 200
    for path in ("/api/status", "/api/status?token=wrong", "/api/contents?token=wrong"):
        status, _, body = get(link.port, B + path)
        assert status == 403, (path, status, body[:200])
    status, location, _ = get(link.port, f"{B}/lab")
    assert status == 302 and location.startswith(f"{B}/login")
    status, _, page = get(link.port, f"{B}/lab?token={link.token}")
    assert status == 200 and b"JupyterLab" in page


def test_the_lab_fetches_no_news_and_no_updates(lab_runner: Runner, running: Run) -> None:
    """The pod has no network: nothing should try, nor ask the candidate whether to."""
    link = lab_runner.lab(running.id)
    status, _, body = get(link.port, f"{B}/lab/api/news?token={link.token}")
    assert status == 200 and json.loads(body)["news"] == []
    status, _, body = get(link.port, f"{B}/lab/api/update?token={link.token}")
    assert status == 200 and json.loads(body)["notification"] is None
    plugin = "@jupyterlab/apputils-extension:notification"
    status, _, body = get(link.port, f"{B}/lab/api/settings/{plugin}?token={link.token}")
    defaults = json.loads(body)["schema"]["properties"]
    assert defaults["fetchNews"]["default"] == "false"
    assert defaults["checkForUpdates"]["default"] is False
    status, _, body = get(link.port, f"{B}/lab/api/extensions?token={link.token}")
    assert status == 200  # the read-only manager lists what is installed, asks no index


def test_the_terminal_is_a_shell_of_the_candidate_in_the_workspace(
    lab_runner: Runner, running: Run
) -> None:
    link = lab_runner.lab(running.id)
    status, body = post(link.port, f"{B}/api/terminals?token={link.token}")
    assert status == 200, body
    name = json.loads(body)["name"]
    printed = asyncio.run(
        terminal_session(
            link.port,
            link.token,
            name,
            "id -u; pwd; command -v python; touch /workspace/from-terminal",
        )
    )
    assert "1000" in printed.split() and "/workspace" in printed.split()
    assert "/opt/venv/bin/python" in printed.split()  # the candidate's environment, not /opt/lab
    _, workspace = lab_runner.workspace(running.id)
    owner = workspace.exec(["stat", "-c", "%u", "/workspace/from-terminal"], timeout=10)
    assert owner.ok and owner.stdout.strip() == "1000"


def test_jupyterlab_runs_once_as_the_candidate_and_a_second_open_reuses_it(
    lab_runner: Runner, running: Run
) -> None:
    first = lab_runner.lab(running.id)
    second = lab_runner.lab(running.id)
    assert (second.port, second.token) == (first.port, first.token)
    _, workspace = lab_runner.workspace(running.id)
    processes = lab_processes(workspace)
    assert len(processes) == 1, processes
    _, uid, rss_kb = processes[0]
    assert uid == 1000
    print(f"JupyterLab RSS: {rss_kb / 1024:.0f} MiB")
    opened = [e for e in lab_runner.store.events(running.id) if e.kind == "lab.opened"]
    assert opened and all(e.data["port"] == first.port for e in opened)
    everything = json.dumps([e.data for e in lab_runner.store.events(running.id)], default=str)
    assert first.token not in everything


def test_another_process_finds_the_same_lab(lab_runner: Runner, running: Run) -> None:
    """E.g. a restarted web server: same token without storing it, no second server."""
    first = lab_runner.lab(running.id)
    other = Runner(
        lab_runner.settings,
        lab_runner.store,
        lab_runner.backend,
        lab_runner.images,
        lab_runner.catalog,
        lab_runner.graders,
    )
    link = other.lab(running.id)
    assert link.token == first.token
    assert get(link.port, f"{B}/api/status?token={link.token}")[0] == 200
    _, workspace = other.workspace(running.id)
    assert len(lab_processes(workspace)) == 1
    assert lab_runner.store.events(running.id)[-1].data["started"] is False


@pytest.fixture(scope="module")
def web_candidate(lab_runner: Runner, running: Run) -> Iterator[tuple[str, httpx.Client]]:
    """``prodproven serve`` in a thread (uvicorn on a free port) over the lab's store and
    runner, and a browser-like client of a candidate whose invitation holds the running run."""
    port = free_port()
    settings = lab_runner.settings.model_copy(update={"web_port": port})
    portal = Portal(settings, lab_runner.store, lambda _: lab_runner, supervise=lambda *_: 0)
    invitation, link = portal.invitations.invite(
        Actor("lead@acme.test", "acme"), "deploy-model", "Ada", "ada@x.test"
    )
    portal.records.invitations.attach_run(invitation.id, running.id)
    config = uvicorn.Config(create_app(portal), host="127.0.0.1", port=port, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline, "the web app did not start"
        time.sleep(0.05)
    base = f"http://127.0.0.1:{port}"
    with httpx.Client(base_url=base, trust_env=False, timeout=60) as client:
        path = link.removeprefix(settings.base_url)
        button = re.search(r'name="csrf" value="([^"]+)"', client.get(path).text)
        assert button is not None, "the invitation page has no button"
        assert client.post(path, data={"csrf": button.group(1)}).status_code == 303
        yield base, client
    server.should_exit = True
    thread.join(timeout=15)


def test_the_web_app_serves_the_lab_to_its_candidate(
    web_candidate: tuple[str, httpx.Client], lab_runner: Runner, running: Run
) -> None:
    """Through the proxy, without the token nor any XSRF cookie: the page, saving a notebook
    (PUT /api/contents), a terminal (POST /api/terminals) and its WebSocket."""
    base, client = web_candidate
    page = client.get(f"{B}/lab")
    assert page.status_code == 200 and "JupyterLab" in page.text
    assert "x-frame-options" not in page.headers  # JupyterLab's own headers, not the app's
    notebook = {"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    origin = {"Origin": base}  # what a browser sends with these
    saved = client.put(
        f"{B}/api/contents/proxied.ipynb",
        json={"type": "notebook", "format": "json", "content": notebook},
        headers=origin,
    )
    assert saved.status_code in (200, 201), saved.text
    made = client.post(f"{B}/api/terminals", headers=origin)
    assert made.status_code == 200, made.text
    printed = asyncio.run(proxied_terminal(base, client.cookies, made.json()["name"], "id -u; pwd"))
    assert "1000" in printed.split() and "/workspace" in printed.split()
    _, workspace = lab_runner.workspace(running.id)
    stored = workspace.exec(["cat", "/workspace/proxied.ipynb"], timeout=10)
    assert stored.ok and json.loads(stored.stdout)["nbformat"] == 4


def test_the_proxy_refuses_other_sites_and_other_people(
    web_candidate: tuple[str, httpx.Client],
) -> None:
    base, client = web_candidate
    assert (
        client.post(f"{B}/api/terminals", headers={"Origin": "https://evil.test"}).status_code
        == 403
    )
    with httpx.Client(base_url=base, trust_env=False, timeout=30) as stranger:
        assert stranger.get(f"{B}/api/status").status_code == 401
    with pytest.raises(Exception, match="403|401"):
        asyncio.run(proxied_terminal(base, client.cookies, "1", "true", origin="https://evil.test"))


def test_a_workspace_whose_candidate_killed_everything_comes_back_with_its_files(
    web_candidate: tuple[str, httpx.Client], lab_runner: Runner, running: Run
) -> None:
    """``kill -9 -1`` as the candidate ends every process they may signal, the workspace's
    main process too, which stops its container: the next request through the proxy starts
    the workspace again (event ``workspace.restarted``), then its lab, with the files kept."""
    base, client = web_candidate
    _, workspace = lab_runner.workspace(running.id)
    assert workspace.exec(["sh", "-c", "echo kept > /workspace/kept.txt"], timeout=10).ok
    workspace.exec(["sh", "-c", "kill -9 -1"], timeout=20, user="1000")
    deadline = time.monotonic() + 30
    while workspace.state() == "running" and time.monotonic() < deadline:
        time.sleep(0.2)
    assert workspace.state() == "exited"
    again = client.get(f"{B}/api/status", timeout=120)
    assert again.status_code == 200, again.text
    kinds = [e.kind for e in lab_runner.store.events(running.id)]
    assert "workspace.restarted" in kinds
    made = client.post(f"{B}/api/terminals", headers={"Origin": base})
    printed = asyncio.run(
        proxied_terminal(base, client.cookies, made.json()["name"], "cat kept.txt")
    )
    assert "kept" in printed.split()


@pytest.mark.timing
def test_the_proxy_costs_little(
    web_candidate: tuple[str, httpx.Client], lab_runner: Runner, running: Run
) -> None:
    """Median latency of /api/status, on the loopback port and through the app."""
    base, client = web_candidate
    link = lab_runner.lab(running.id)
    direct = httpx.Client(base_url=f"http://127.0.0.1:{link.port}", trust_env=False, timeout=30)
    auth = {"Authorization": f"token {link.token}"}
    timings: dict[str, list[float]] = {"direct": [], "proxied": []}
    sends: dict[str, Callable[[], httpx.Response]] = {
        "direct": lambda: direct.get(f"{B}/api/status", headers=auth),
        "proxied": lambda: client.get(f"{B}/api/status"),
    }
    with direct:
        for _ in range(40):
            for name, send in sends.items():
                began = time.perf_counter()
                assert send().status_code == 200
                timings[name].append(time.perf_counter() - began)
    medians = {name: sorted(values)[len(values) // 2] * 1000 for name, values in timings.items()}
    print("/api/status median, ms: direct {direct:.1f}, proxied {proxied:.1f}".format(**medians))
    assert medians["proxied"] < medians["direct"] + 50


async def proxied_terminal(
    base: str, cookies: httpx.Cookies, name: str, command: str, origin: str | None = None
) -> str:
    """Type ``command`` in terminal ``name`` through the web app; what it printed."""
    cookie = "; ".join(f"{key}={value}" for key, value in cookies.items())
    url = base.replace("http://", "ws://") + f"{B}/terminals/websocket/{name}"
    request = HTTPRequest(
        url, headers={"Origin": origin or base, "Cookie": cookie}, connect_timeout=30
    )
    ws = await websocket_connect(request)
    return await typed(ws, command)


def test_a_submitted_run_has_no_lab_and_its_forward_is_closed(
    lab_runner: Runner, running: Run
) -> None:
    link = lab_runner.lab(running.id)
    lab_runner.submit(running.id)
    with pytest.raises(RunStateError, match="submitted"):
        lab_runner.lab(running.id)
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", link.port), timeout=3).close()


def test_a_scripted_run_starts_no_lab(runner: Runner) -> None:
    challenge = load_challenge(BUILTIN / "deploy-model", plugins.catalog())
    run = runner.start(challenge, "ada", mode="scripted")
    try:
        assert not [e for e in runner.store.events(run.id) if e.kind.startswith("lab.")]
        _, workspace = runner.workspace(run.id)
        assert lab_processes(workspace) == []
    finally:
        runner.backend.remove_run(run.id)
