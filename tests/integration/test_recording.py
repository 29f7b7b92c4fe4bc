"""Recording a real run's work through the web app's lab proxy (runner/runs/recording.py wired
in runner/web/proxy.py), against the real engine: a JupyterLab terminal into an asciicast file,
a cell executed over the kernel's channel into cells.jsonl, both archived at submit; as the
candidate inside the workspace, the recordings can be neither reached nor stopped; and they
never leave the data directory except through the pages of an assessor of the run's firm: no
container of the run mounts them, their text is in no file of the pod, the candidate, a
stranger and another firm's assessor get none of it, and neither do the result, the events,
the report nor the credential.

The run, the lab and ``prodproven serve`` are test_lab.py's fixtures (a run of the SLO lab).
The tests run in order on the one run: recorded, hostile, archived at submit, graded.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from tornado.httpclient import HTTPRequest
from tornado.websocket import websocket_connect

from prodproven.runner import plugins
from prodproven.runner.credentials.content import Evidence, Subject, build, bundle_sha256
from prodproven.runner.credentials.issuer_key import issuer_key
from prodproven.runner.lifecycle.core import Runner
from prodproven.runner.portal.core import Portal
from prodproven.runner.runs import recording, workprocess
from prodproven.runner.runs.archives import sha256_of
from prodproven.runner.runs.store import Run, Status, utcnow
from prodproven.runner.spec.challenge import load_challenge
from prodproven.sandbox.environment import RUN_LABEL
from tests.integration import test_lab
from tests.integration.labsupport import B, lab_processes
from tests.unit.test_recording import v1_frame
from tests.unit.websupport import csrf_of

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

HALVES = (uuid.uuid4().hex[:12], uuid.uuid4().hex[:12])
MARKER = "".join(HALVES)
"""Printed once in a recorded terminal by ``printf '%s%s' HALF HALF``: what is typed (the
command, and so a shell's history) holds only the halves apart, the output the marker whole."""
GREP_POD = r"""
marker=$(printf %s%s "$1" "$2")
for top in /* /.[!.]*; do
  case "$top" in /proc|/sys|/dev) ;; *) grep -rsaoF -D skip -e "$marker" -e "$3" "$top" ;; esac
done
exit 0
"""
"""``FILE:MATCH`` for every place in a container's files holding the marker (its halves are
the arguments: the marker is on no command line as typed, and /proc, where grep's own
arguments are, is not searched) or the control (the third argument), which shows the search
reads what is there."""
CONTROL = "root:x:0:0:"
"""In every container's /etc/passwd."""


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


def test_no_container_of_the_run_mounts_the_recordings_nor_holds_their_text(
    web_candidate: tuple[str, httpx.Client], lab_runner: Runner, running: Run, docker_client: Any
) -> None:
    """Every container and volume of the run inspected: none mounts the recordings' folder or
    archive (nor a folder above them); a search of every file of each container (as root)
    finds the recorded marker nowhere (while it is in the recording on the host); the
    candidate's browser gets none of it."""
    base, client = web_candidate
    root = lab_runner.paths(running.id).root
    name = new_terminal(client, base)
    asyncio.run(
        proxied_terminal(base, client.cookies, name, "printf '%s%s\\n' " + " ".join(HALVES))
    )
    where = recording.recordings_dir(root)
    recorded = [lines for f, lines in casts(where).items() if f.startswith(f"terminal-{name}-")]
    assert MARKER in "".join(e[2] for lines in recorded for e in lines[1:] if e[1] == "o")
    forbidden = (recording.recordings_dir(root), root / recording.ARCHIVE)
    labelled = {"label": f"{RUN_LABEL}={running.id}"}
    containers = docker_client.containers.list(all=True, filters=labelled)
    assert len(containers) >= 2, "the pod's owner and its workspace at least"
    volumes = docker_client.volumes.list(filters=labelled)
    sources = [Path(m["Source"]) for c in containers for m in c.attrs["Mounts"] if m.get("Source")]
    sources += [Path(v.attrs["Mountpoint"]) for v in volumes]
    sources += [
        Path(o)
        for v in volumes
        for o in (v.attrs.get("Options") or {}).values()
        if o.startswith("/")
    ]
    assert sources, "the workspace is a mounted volume"
    for source in sources:
        assert not any(f == source or f.is_relative_to(source) for f in forbidden), source
    for container in containers:
        found = container.exec_run(["sh", "-c", GREP_POD, "grep-pod", *HALVES, CONTROL])
        lines = found.output.decode(errors="replace").splitlines()
        assert f"/etc/passwd:{CONTROL}" in lines, (container.name, lines[:20])
        assert not [line for line in lines if MARKER in line], container.name
    refused_to(client, running.id, root)


def refused_to(browser: httpx.Client, run_id: str, root: Path) -> None:
    """``browser`` (not an assessor of the run's firm) gets no recording, transcript, timeline
    step nor run page: the sign-in page (303) or 404, never the recorded text."""
    names = workprocess.Recordings(root).names()
    assert "cells.jsonl" in names and any(n.endswith(".cast") for n in names), names
    paths = {f"/runs/{run_id}", f"/runs/{run_id}/timeline/0", f"/runs/{run_id}/timeline/1"}
    paths |= {f"/runs/{run_id}/recordings/{n}" for n in names}
    paths |= {f"/runs/{run_id}/recordings/{n.removesuffix('.cast')}" for n in names}
    for path in sorted(paths):
        answer = browser.get(path, follow_redirects=False)
        signed_out = answer.status_code == 303 and answer.headers["location"].startswith("/login")
        assert signed_out or answer.status_code == 404, (path, answer.status_code)
        assert not any(half in answer.text for half in HALVES), path


def test_the_recordings_are_archived_at_submit(lab_runner: Runner, running: Run) -> None:
    lab_runner.submit(running.id)
    root = lab_runner.paths(running.id).root
    [archived] = [e for e in lab_runner.store.events(running.id) if e.kind == "recordings.archived"]
    assert archived.data["sha256"] == sha256_of(root / recording.ARCHIVE)
    assert archived.data["files"] >= 2


def test_only_an_assessor_of_the_runs_firm_gets_the_recording_and_nothing_else_carries_it(
    web_candidate: tuple[str, httpx.Client], lab_runner: Runner, running: Run
) -> None:
    """After grading: the transcript and the .cast to acme's assessor; the sign-in page to the
    candidate and to a stranger, 404 to globex's assessor; the candidate's own pages, the
    result (API and ``prodproven show --json``), the events, the report and the credential
    carry none of the recorded text (the report and the credential no recording at all)."""
    base, candidate = web_candidate
    graded = lab_runner.grade(running.id)
    assert graded.status is Status.graded
    portal = Portal(lab_runner.settings, lab_runner.store, lambda _: lab_runner, lambda *_: 0)
    root = lab_runner.paths(running.id).root
    acme = signed_in(portal, base, "rita@acme.test", "acme")
    casts_ = workprocess.Recordings(root).casts()
    [cast] = [n for n in casts_ if marker_in_cast(acme, running, n)]
    transcript = acme.get(f"/runs/{running.id}/recordings/{cast.removesuffix('.cast')}")
    assert transcript.status_code == 200 and MARKER in transcript.text
    globex = signed_in(portal, base, "gil@globex.test", "globex")
    with httpx.Client(base_url=base, trust_env=False, timeout=60) as stranger:
        for browser in (candidate, stranger, globex):
            refused_to(browser, running.id, root)
    for path in (
        "/candidate",
        "/candidate/status",
        "/candidate/submit",
        "/candidate/lab/lab",
        "/candidate/credential.json",
        "/candidate/tools/lab",
    ):
        assert not any(half in candidate.get(path).text for half in HALVES), path
    _, token = portal.accounts.create_token("rita@acme.test", "leak test", ("read",))
    api = {"Authorization": f"Bearer {token}"}
    report = acme.get(f"/runs/{running.id}/report.html")
    assert report.status_code == 200 and "/recordings/" not in report.text
    shown = subprocess.run(
        [sys.executable, "-m", "prodproven.runner.cli", "show", running.id, "--json", "--events"],
        env={**os.environ, "PRODPROVEN_DATA_DIR": str(lab_runner.settings.data_dir)},
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    outputs = {  # each with what shows it is this run's
        "api result": (acme.get(f"/api/runs/{running.id}", headers=api).text, running.id),
        "api events": (
            acme.get(f"/api/runs/{running.id}/events?limit=1000", headers=api).text,
            "recordings.archived",
        ),
        "show --json": (shown.stdout, running.id),
        "report": (report.text, running.id),
        "credential": (json.dumps(credential_of(portal, graded)), running.id),
    }
    for what, (text, theirs) in outputs.items():
        assert theirs in text, what
        assert not any(half in text for half in HALVES), what


def signed_in(portal: Portal, base: str, email: str, firm: str) -> httpx.Client:
    """A browser signed in to the web app as a new assessor of ``firm``."""
    password = "a long enough password 1"
    portal.accounts.add_assessor(email, email.split("@")[0].title(), firm, password)
    browser = httpx.Client(base_url=base, trust_env=False, timeout=60)
    login = browser.get("/login")
    form = {"email": email, "password": password, "csrf": csrf_of(login.text), "next": "/runs"}
    assert browser.post("/login", data=form).status_code == 303
    return browser


def marker_in_cast(browser: httpx.Client, run: Run, name: str) -> bool:
    """Whether the recording ``name`` (downloaded whole by ``browser``) printed the marker."""
    got = browser.get(f"/runs/{run.id}/recordings/{name}")
    assert got.status_code == 200, (name, got.status_code)
    events = [json.loads(line) for line in got.text.splitlines()[1:]]
    return MARKER in "".join(e[2] for e in events if e[1] == "o")


def credential_of(portal: Portal, run: Run) -> dict[str, Any]:
    """The credential this run would be given, unsigned (it did not pass, so none is issued),
    its evidence gathered as ``portal.credentials.issue`` gathers it."""
    records, settings = portal.records, portal.settings
    artifacts = [(a.name, a.sha256) for a in records.store.artifacts(run.id)]
    spec = load_challenge(Path(run.challenge_path), plugins.catalog()).spec
    evidence = Evidence(run, spec, records.reviews.for_run(run.id), bundle_sha256(run, artifacts))
    subject = Subject("ada@x.test", "emailAddress")
    key = issuer_key(settings.data_dir)
    return build(evidence, subject, key, "acme", settings.base_url, utcnow(), 12)
