"""Every built-in challenge's workspace has the everyday command-line tools of the lab layer
(sandbox/images/lab/debs.txt): curl, jq, less, vim and vi, nano, and procps' ps, top, free and
pkill, each with all its libraries, run as the candidate under the workspace's hardening
(uid 1000, every capability dropped, read-only root, no network).

And in a real JupyterLab terminal they do the work they are there for, typed key by key over
the terminal's WebSocket: in every built-in challenge's workspace container (in a pod of its
own, the lab started as a run starts it, without the run's services) curl asks the lab's own
API for its terminals and jq picks this one's name out, then a file is written with nano and
edited with vim. In a running fix-drift run, curl asks the run's MLflow for the registered
model instead.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import shlex
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from tornado.websocket import WebSocketClientConnection

from prodproven.runner import plugins
from prodproven.runner.config import Settings
from prodproven.runner.grading.evaluation import CANDIDATE_TMPFS, candidate_container
from prodproven.runner.lifecycle.core import Runner
from prodproven.runner.runs.lab import LAB_PORT, ensure_lab, lab_token
from prodproven.runner.runs.store import Run
from prodproven.runner.spec.challenge import Challenge, load_challenge
from prodproven.sandbox.docker_backend import HARDENING, DockerBackend
from prodproven.sandbox.environment import CANDIDATE_UID, KEEPALIVE, Sandbox
from prodproven.sandbox.images import ImageBuilder
from tests.conftest import BUILTIN
from tests.integration.conftest import runner_for
from tests.integration.labsupport import B, post, websocket

pytestmark = pytest.mark.docker

CHALLENGES = sorted(p.name for p in BUILTIN.iterdir() if (p / "challenge.yaml").is_file())
CHECKS = {
    "libraries": "ldd /usr/bin/{curl,jq,less,nano,vim.tiny,ps,top,free,pgrep} >/tmp/ldd"
    " && ! grep 'not found' /tmp/ldd",
    "curl": "curl --version",
    "jq": """test "$(echo '{"a": [1, 2]}' | jq -c '.a | add')" = 3""",
    "less": "test \"$(printf 'paged\\n' | less)\" = paged",
    "vim": "printf 'a\\n' >/tmp/v && vim -es -c 's/a/b/' -c wq /tmp/v"
    ' && test "$(cat /tmp/v)" = b',
    "vi": "vi --version",
    "nano": "nano --version",
    "ps": "ps -eo pid,user,comm | grep -q ps",
    "top": "top -bn1",
    "free": "free -m",
    # pkill only once the child runs sleep: killed before its exec, the shell would live on
    "pkill": "sleep 60 & for _ in $(seq 100); do pgrep -x sleep >/dev/null && break;"
    " sleep 0.05; done; pkill -x sleep; wait $!; test $? = 143",
    "editor and pager": 'test "$EDITOR $PAGER" = "nano less"'
    " && editor --version && pager --version",
}
CHECK_SCRIPT = (
    'check() { if out=$(bash -c "$2" 2>&1); then echo "ok $1"; '
    'else echo "FAILED $1: $(echo "$out" | tail -3 | tr "\\n" " ")"; fi; }\n'
) + "\n".join(f"check {shlex.quote(name)} {shlex.quote(cmd)}" for name, cmd in CHECKS.items())
TERMINAL_CHALLENGE = "fix-drift"  # its MLflow server answers in the pod, seeded with a model
STEP_TIMEOUT_S = 30.0
PROMPT = "/workspace$ "


def challenge_and_image(images: ImageBuilder, challenge_id: str) -> tuple[Challenge, str]:
    """A built-in challenge and its workspace image (built when missing or changed)."""
    challenge = load_challenge(BUILTIN / challenge_id, plugins.catalog())
    image = images.recipe(
        f"challenge-{challenge_id}",
        challenge.path(challenge.spec.image.recipe),
        parent=images.lab(),
    )
    return challenge, image


@pytest.mark.parametrize("challenge_id", CHALLENGES)
def test_every_workspace_has_the_everyday_tools(
    images: ImageBuilder, docker_client: Any, challenge_id: str
) -> None:
    _, image = challenge_and_image(images, challenge_id)
    out = docker_client.containers.run(
        image,
        ["bash", "-c", CHECK_SCRIPT],
        user=str(CANDIDATE_UID),
        network_mode="none",
        read_only=True,
        tmpfs=CANDIDATE_TMPFS,
        remove=True,
        **HARDENING,
    )
    lines = bytes(out).decode().splitlines()
    assert [line.split(" ", 1)[1] for line in lines] == list(CHECKS), lines
    assert [line for line in lines if not line.startswith("ok ")] == []


class Terminal:
    """A JupyterLab terminal driven over its WebSocket as a person types into it."""

    def __init__(self, ws: WebSocketClientConnection) -> None:
        self._ws = ws
        self._unread = ""

    def type(self, keys: str) -> None:
        self._ws.write_message(json.dumps(["stdin", keys]))

    async def expect(self, text: str) -> str:
        """What the terminal prints up to and including ``text``; what follows is left for the
        next call. Fails when ``text`` does not come within STEP_TIMEOUT_S."""
        seen = self._unread
        deadline = time.monotonic() + STEP_TIMEOUT_S
        while text not in seen:
            try:
                message = await asyncio.wait_for(
                    self._ws.read_message(), timeout=max(deadline - time.monotonic(), 0.1)
                )
            except TimeoutError:
                pytest.fail(f"waited for {text!r}; the terminal printed {seen!r}")
            assert message is not None, f"the terminal closed; it printed {seen!r}"
            kind, *payload = json.loads(message)
            if kind == "stdout":
                seen += payload[0]
        end = seen.index(text) + len(text)
        self._unread = seen[end:]
        return seen[:end]

    async def run(self, command: str) -> str:
        """Type ``command`` and Enter; what it printed, up to a marker echoed after it."""
        marker = uuid.uuid4().hex
        # The terminal echoes what is typed: the marker is printed whole but typed in two halves.
        self.type(f"{command}; echo {marker[:8]}''{marker[8:]}\r")
        return await self.expect(marker)

    async def write_notes_with_nano_and_vim(self) -> None:
        """Write notes.txt with nano ("from nano"), then add a first line with vim."""
        self.type("nano notes.txt\r")
        await self.expect("GNU nano")
        self.type("from nano")
        self.type("\x0f")  # ^O: write out
        await self.expect("File Name to Write")
        self.type("\r")
        await self.expect("Wrote 1 line")
        self.type("\x18")  # ^X: exit
        await self.expect(PROMPT)  # typed before the shell is back, it would go to the editor
        self.type("vim notes.txt\r")
        await self.expect('"notes.txt"')
        self.type("i")
        await self.expect("INSERT")
        self.type("from vim\r")
        self.type("\x1b")
        await asyncio.sleep(0.5)  # lets vim take Esc alone, not as the start of a key code
        self.type(":wq\r")
        await self.expect("written")
        await self.expect(PROMPT)


def work_in_a_new_terminal(port: int, token: str, curl: str) -> dict[str, str]:
    """Open a terminal of the lab on the host's ``port``; in it show $EDITOR and $PAGER, run
    the ``curl`` command line, write notes.txt with nano and vim and cat it. What each step
    printed, and the terminal's name under "name"."""
    status, body = post(port, f"{B}/api/terminals?token={token}")
    assert status == 200, body
    name = json.loads(body)["name"]

    async def session() -> dict[str, str]:
        url = f"ws://127.0.0.1:{port}{B}/terminals/websocket/{name}?token={token}"
        ws = await websocket(url, port)
        term = Terminal(ws)
        printed = {"name": name}
        printed["env"] = await term.run('echo "$EDITOR+$PAGER"')
        printed["curl"] = await term.run(curl)
        await term.write_notes_with_nano_and_vim()
        printed["cat"] = await term.run("cat notes.txt")
        ws.close()
        return printed

    began = time.monotonic()
    printed = asyncio.run(session())
    print(f"terminal session: {time.monotonic() - began:.1f} s")
    return printed


def assert_edited_with_nano_and_vim(printed: dict[str, str], workspace: Sandbox) -> None:
    """nano and less were the terminal's $EDITOR and $PAGER, it showed notes.txt as the
    editors left it, and the candidate owns the file."""
    assert "nano+less" in printed["env"].split(), printed["env"]
    assert "from vim\r\nfrom nano\r\n" in printed["cat"], printed["cat"]
    written = workspace.exec(["cat", "/workspace/notes.txt"], timeout=10)
    assert written.ok and written.stdout == "from vim\nfrom nano\n"
    owner = workspace.exec(["stat", "-c", "%u", "/workspace/notes.txt"], timeout=10)
    assert owner.stdout.strip() == str(CANDIDATE_UID)


@dataclass(frozen=True)
class LabWorkspace:
    """A challenge's workspace container, started as a run starts it, in a pod of its own."""

    run_id: str
    box: Sandbox
    port: int
    """Where the host reaches the pod's LAB_PORT."""


@pytest.fixture(params=CHALLENGES)
def lab_workspace(
    request: pytest.FixtureRequest, images: ImageBuilder, backend: DockerBackend
) -> Iterator[LabWorkspace]:
    """The workspace container of one built-in challenge (no starter files, no services);
    everything of its run removed at the end whatever happened."""
    challenge, image = challenge_and_image(images, request.param)
    run_id = "t" + secrets.token_hex(4)
    try:
        pod = backend.create_pod(run_id, "workspace")
        box = pod.add(
            candidate_container(
                "workspace",
                image,
                run_id,
                "workspace",
                challenge.spec.resources.limits,
                command=KEEPALIVE,
            )
        )
        box.start()
        yield LabWorkspace(run_id, box, pod.publish(LAB_PORT).host_port)
    finally:
        backend.remove_run(run_id)


def test_every_lab_terminal_has_curl_jq_nano_and_vim(
    lab_workspace: LabWorkspace, data_dir: Path
) -> None:
    token = lab_token(data_dir, lab_workspace.run_id)
    began = time.monotonic()
    status = ensure_lab(lab_workspace.box, token, run_id=lab_workspace.run_id)
    print(f"lab started in {time.monotonic() - began:.1f} s")
    assert status.started
    terminals = f"http://127.0.0.1:{LAB_PORT}{B}/api/terminals"
    printed = work_in_a_new_terminal(
        lab_workspace.port,
        token,
        f'curl -s -H "Authorization: token {token}" {terminals}'
        """ | jq -r '.[] | "terminal:" + .name'""",
    )
    assert f"terminal:{printed['name']}" in printed["curl"].split(), printed["curl"]
    assert_edited_with_nano_and_vim(printed, lab_workspace.box)


@pytest.fixture(scope="module")
def drift_run(
    images: ImageBuilder, runtime_image: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Runner, Run]]:
    """An interactive run of fix-drift; removed at the end whatever happened."""
    settings = Settings.from_env(data_dir=tmp_path_factory.mktemp("tools-data"))
    runner = runner_for(settings, images, runtime_image)
    run = runner.start(load_challenge(BUILTIN / TERMINAL_CHALLENGE, plugins.catalog()), "ada")
    try:
        yield runner, run
    finally:
        runner.backend.remove_run(run.id)


def test_a_lab_terminal_queries_a_service_and_edits_files_with_nano_and_vim(
    drift_run: tuple[Runner, Run],
) -> None:
    runner, run = drift_run
    link = runner.lab(run.id)
    printed = work_in_a_new_terminal(
        link.port,
        link.token,
        'curl -s "$MLFLOW_TRACKING_URI/api/2.0/mlflow/registered-models/get?name=churn-model"'
        " | jq -r '.registered_model.name | ascii_upcase'",
    )
    assert "CHURN-MODEL" in printed["curl"].split(), printed["curl"]
    _, workspace = runner.workspace(run.id)
    assert_edited_with_nano_and_vim(printed, workspace)
