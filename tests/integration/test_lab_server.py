"""The JupyterLab server that ensure_lab starts in a workspace, against the real engine, in pods
of their own with deploy-model's and fix-drift's images: notebooks get the candidate's Python
when it has ipykernel, a server with another token or an older base URL is replaced, and a lab
that cannot start is a clear error with its log.

The lab of a run (started with it, its token, its terminal, the web app's proxy) is in
test_lab.py.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from prodproven.runner.errors import ServiceNotReady
from prodproven.runner.grading.evaluation import candidate_container
from prodproven.runner.runs.lab import LAB_PORT, LOG_FILE, ensure_lab
from prodproven.sandbox.docker_backend import DockerBackend
from prodproven.sandbox.environment import KEEPALIVE, Limits, Pod, Sandbox
from prodproven.sandbox.images import ImageBuilder
from tests.conftest import BUILTIN
from tests.integration.labsupport import B, get, lab_processes, post, websocket

pytestmark = pytest.mark.docker

LIMITS = Limits(memory_bytes=2**30, cpus=1.0, pids=256)


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
