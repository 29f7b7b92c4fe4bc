"""JupyterLab in the workspace, against the real engine: it starts with an interactive run,
answers only with the run's token under its base URL, its terminal is a shell of the candidate
in /workspace, a second open reuses the server and the forward, the web app's proxy serves it
to the candidate (saving a notebook, a terminal over its WebSocket), and notebooks get the
candidate's Python.

The run is one of the SLO lab (tests/integration/labs/slo-lab, deploy-model's image); the
kernel tests use pods of their own with deploy-model's and fix-drift's images.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import shutil
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from tornado.httpclient import HTTPRequest
from tornado.websocket import WebSocketClientConnection, websocket_connect

from prodproven.runner import plugins
from prodproven.runner.config import Settings
from prodproven.runner.errors import RunStateError, ServiceNotReady
from prodproven.runner.grading.evaluation import candidate_container
from prodproven.runner.lifecycle.core import Runner
from prodproven.runner.portal.access import Actor
from prodproven.runner.portal.core import Portal
from prodproven.runner.runs.lab import LAB_BASE_URL, LAB_PORT, LOG_FILE, ensure_lab
from prodproven.runner.runs.store import Run
from prodproven.runner.spec.challenge import Challenge, load_challenge
from prodproven.runner.web.app import create_app
from prodproven.sandbox.docker_backend import DockerBackend
from prodproven.sandbox.environment import KEEPALIVE, Limits, Pod, Sandbox
from prodproven.sandbox.images import ImageBuilder
from tests.conftest import BUILTIN
from tests.integration.conftest import runner_for

pytestmark = pytest.mark.docker

B = LAB_BASE_URL.rstrip("/")  # every path of the lab starts with it
LAB = Path(__file__).parent / "labs" / "slo-lab"
LIMITS = Limits(memory_bytes=2**30, cpus=1.0, pids=256)
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


@pytest.fixture(scope="module")
def lab_runner(
    images: ImageBuilder, runtime_image: str, tmp_path_factory: pytest.TempPathFactory
) -> Runner:
    settings = Settings.from_env(data_dir=tmp_path_factory.mktemp("lab-data"))
    return runner_for(settings, images, runtime_image)


@pytest.fixture(scope="module")
def slo_lab(tmp_path_factory: pytest.TempPathFactory) -> Challenge:
    root = tmp_path_factory.mktemp("labs") / "slo-lab"
    shutil.copytree(LAB, root)
    shutil.copytree(BUILTIN / "deploy-model" / "image", root / "image")
    return load_challenge(root, plugins.catalog())


@pytest.fixture(scope="module")
def running(lab_runner: Runner, slo_lab: Challenge) -> Iterator[Run]:
    """An interactive run of the lab; removed at the end whatever happened."""
    run = lab_runner.start(slo_lab, "ada", mode="interactive")
    yield run
    lab_runner.backend.remove_run(run.id)


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


async def kernel_run(port: int, token: str, kernel_id: str, code: str) -> str:
    """Execute ``code`` in a kernel over its websocket; return its stdout."""
    ws = await websocket(
        f"ws://127.0.0.1:{port}{B}/api/kernels/{kernel_id}/channels?token={token}", port
    )
    msg_id = uuid.uuid4().hex
    ws.write_message(
        json.dumps(
            {
                "header": {
                    "msg_id": msg_id,
                    "msg_type": "execute_request",
                    "username": "test",
                    "session": uuid.uuid4().hex,
                    "date": "",
                    "version": "5.3",
                },
                "parent_header": {},
                "metadata": {},
                "content": {"code": code, "silent": False, "store_history": False},
                "channel": "shell",
            }
        )
    )
    out = ""
    deadline = time.monotonic() + 60
    while True:
        assert time.monotonic() < deadline, f"no reply from the kernel; printed {out!r}"
        raw = await asyncio.wait_for(ws.read_message(), timeout=60)
        assert raw is not None, f"the kernel's websocket closed; it printed {out!r}"
        message = json.loads(raw)
        if message.get("parent_header", {}).get("msg_id") != msg_id:
            continue
        kind = message["header"]["msg_type"]
        if kind == "stream":
            out += message["content"]["text"]
        elif kind == "error":
            raise AssertionError(f"the kernel raised: {message['content']['evalue']}")
        elif kind == "execute_reply":
            ws.close()
            return out


# the interactive run ---------------------------------------------------------------------------
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
        assert client.get(link.removeprefix(settings.base_url)).status_code == 303
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


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_a_submitted_run_has_no_lab_and_its_forward_is_closed(
    lab_runner: Runner, running: Run
) -> None:
    link = lab_runner.lab(running.id)
    lab_runner.submit(running.id)
    with pytest.raises(RunStateError, match="submitted"):
        lab_runner.lab(running.id)
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", link.port), timeout=3).close()


# the lab in pods of its own -----------------------------------------------------------------
@pytest.fixture
def workspace_of(
    backend: DockerBackend, run_id: str, images: ImageBuilder
) -> Iterator[Callable[..., tuple[Pod, Sandbox]]]:
    """Start a workspace container of a built-in challenge's image in a pod of its own."""
    pods: list[Pod] = []

    def make(challenge_id: str, command: list[str] = KEEPALIVE) -> tuple[Pod, Sandbox]:
        image = images.recipe(
            f"challenge-{challenge_id}",
            BUILTIN / challenge_id / "image",
            parent=images.lab(),
        )
        pod = backend.create_pod(run_id, "workspace")
        pods.append(pod)
        box = pod.add(
            candidate_container("workspace", image, run_id, "workspace", LIMITS, command=command)
        )
        box.start()
        return pod, box

    yield make
    for pod in pods:
        pod.remove()


def kernel_of(pod: Pod, token: str, code: str) -> tuple[dict[str, Any], str]:
    """The lab's kernelspecs, and what ``code`` printed in a new default kernel (after
    ``import sys``)."""
    port = pod.publish(LAB_PORT).host_port
    status, _, body = get(port, f"{B}/api/kernelspecs?token={token}")
    assert status == 200
    specs = json.loads(body)
    status, body = post(port, f"{B}/api/kernels?token={token}")
    assert status == 201, body
    kernel_id = json.loads(body)["id"]
    printed = asyncio.run(kernel_run(port, token, kernel_id, f"import sys; {code}"))
    return specs, printed.strip()


def test_notebooks_get_the_candidates_python_when_it_has_ipykernel(
    workspace_of: Callable[..., tuple[Pod, Sandbox]],
) -> None:
    pod, box = workspace_of("fix-drift")
    status = ensure_lab(box, "t0ken", run_id="kernel-test")
    assert status.started and status.kernel == "workspace"
    specs, printed = kernel_of(pod, "t0ken", "import pandas, sklearn; print(sys.executable)")
    assert list(specs["kernelspecs"]) == ["python3"]  # notebooks saying python3 open in it
    spec = specs["kernelspecs"]["python3"]["spec"]
    assert spec["display_name"] == "Python (workspace)"
    assert printed == "/opt/venv/bin/python"  # with the challenge's packages


def test_without_ipykernel_in_the_workspace_jupyterlabs_own_kernel_remains(
    workspace_of: Callable[..., tuple[Pod, Sandbox]],
) -> None:
    pod, box = workspace_of("deploy-model")
    status = ensure_lab(box, "t0ken", run_id="kernel-test")
    assert status.kernel == "lab"
    specs, printed = kernel_of(pod, "t0ken", "print(sys.executable)")
    assert specs["kernelspecs"]["python3"]["spec"]["display_name"] == "Python 3 (ipykernel)"
    assert printed == "/opt/lab/bin/python"


def test_a_server_with_another_token_is_replaced(
    workspace_of: Callable[..., tuple[Pod, Sandbox]],
) -> None:
    pod, box = workspace_of("deploy-model")
    first = ensure_lab(box, "old-token", run_id="token-test")
    second = ensure_lab(box, "new-token", run_id="token-test")
    assert second.started and second.pid != first.pid
    port = pod.publish(LAB_PORT).host_port
    assert get(port, f"{B}/api/status?token=new-token")[0] == 200
    assert get(port, f"{B}/api/status?token=old-token")[0] == 403
    assert [pid for pid, _, _ in lab_processes(box)] == [second.pid]


def test_a_server_with_an_older_base_url_is_replaced(
    workspace_of: Callable[..., tuple[Pod, Sandbox]],
) -> None:
    pod, box = workspace_of("deploy-model")
    old = ensure_lab(box, "t0ken", run_id="base-test", base_url="/")
    port = pod.publish(LAB_PORT).host_port
    assert get(port, "/api/status?token=t0ken")[0] == 200
    new = ensure_lab(box, "t0ken", run_id="base-test")
    assert new.started and new.pid != old.pid
    assert get(port, f"{B}/api/status?token=t0ken")[0] == 200
    assert get(port, "/api/status?token=t0ken")[0] == 404
    assert [pid for pid, _, _ in lab_processes(box)] == [new.pid]


def test_a_lab_that_cannot_start_is_a_clear_error_with_its_log(
    workspace_of: Callable[..., tuple[Pod, Sandbox]],
) -> None:
    # Something else holds the lab's port (a candidate's own server).
    _, box = workspace_of(
        "deploy-model", ["python3", "-m", "http.server", str(LAB_PORT), "--bind", "127.0.0.1"]
    )
    time.sleep(1)
    with pytest.raises(ServiceNotReady) as caught:
        ensure_lab(box, "t0ken", run_id="r-blocked", timeout=20)
    message = str(caught.value)
    assert "run r-blocked" in message and LOG_FILE in message
    assert "already in use" in message


def test_a_scripted_run_starts_no_lab(runner: Runner) -> None:
    challenge = load_challenge(BUILTIN / "deploy-model", plugins.catalog())
    run = runner.start(challenge, "ada", mode="scripted")
    try:
        assert not [e for e in runner.store.events(run.id) if e.kind.startswith("lab.")]
        _, workspace = runner.workspace(run.id)
        assert lab_processes(workspace) == []
    finally:
        runner.backend.remove_run(run.id)
