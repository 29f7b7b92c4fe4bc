"""JupyterLab, with a terminal, inside a run's workspace container.

Challenge images are built on the workspace-tools layer (``sandbox/images/lab``), which holds
JupyterLab in its own virtual environment ``/opt/lab``. :func:`ensure_lab` starts it in the
running workspace container as the candidate, detached (its output goes to :data:`LOG_FILE`),
serving ``/workspace`` on ``127.0.0.1:LAB_PORT`` inside the pod under the base URL
:data:`LAB_BASE_URL`. The host reaches it through ``Pod.publish``; the web app's proxy
(``runner/web/proxy.py``) serves it on the app's own origin under that same path. It answers
only with the run's token (:func:`lab_token`, derived from the installation's secret, so it is
never stored). Terminals run ``bash``; announcements, update checks and the extension
manager's package index are off (the pod has no network). When the candidate's ``/opt/venv``
has ipykernel, the kernelspec ``python3`` is replaced by "Python (workspace)", which runs
``/opt/venv/bin/python``: notebooks see the challenge's packages. Without it JupyterLab's own
Python kernel is the one offered.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prodproven.runner import keys
from prodproven.runner.errors import ImageError, ProdprovenError, ServiceNotReady
from prodproven.sandbox.environment import CANDIDATE_USER, Sandbox
from prodproven.sandbox.errors import ExecTimeout
from prodproven.sandbox.scripts import script

LAB_PORT = 8888
LAB_PYTHON = "/opt/lab/bin/python"
WORKSPACE_PYTHON = "/opt/venv/bin/python"
ROOT_DIR = "/workspace"
STATE_DIR = "/tmp/prodproven-lab"
LOG_FILE = f"{STATE_DIR}/jupyterlab.log"
START_TIMEOUT_S = 60.0
KERNEL_NAME = "python3"
KERNEL_DISPLAY_NAME = "Python (workspace)"
TOKEN_PURPOSE = "lab"
LAB_BASE_URL = "/candidate/lab/"
"""Every URL JupyterLab makes (pages, assets, API, websockets) starts with this path: the web
app proxies exactly this prefix to the candidate's own lab, and so does the recording relay of
``prodproven lab RUN`` (``runner/web/lab_relay.py``)."""


@dataclass(frozen=True)
class LabLink:
    """Where a person opens a run's JupyterLab: ``url`` carries the token."""

    url: str
    port: int
    token: str


@dataclass(frozen=True)
class LabStatus:
    """What :func:`ensure_lab` found or did."""

    started: bool
    """False when JupyterLab was already running (nothing was started)."""
    pid: int | None
    ready_s: float
    """Seconds until it answered (0 when it already did)."""
    kernel: str
    """"workspace" (the candidate's /opt/venv) or "lab" (JupyterLab's own Python)."""


def lab_token(data_dir: Path, run_id: str) -> str:
    """The token of a run's JupyterLab, the same in every process of this installation."""
    return keys.derive(keys.instance_secret(data_dir), TOKEN_PURPOSE, run_id)


def lab_url(origin: str, token: str) -> str:
    """The lab's page at ``origin`` (e.g. ``http://127.0.0.1:PORT``), with the token."""
    return f"{origin.rstrip('/')}{LAB_BASE_URL}lab?token={token}"


def lab_command(
    port: int = LAB_PORT, root_dir: str = ROOT_DIR, base_url: str = LAB_BASE_URL
) -> list[str]:
    """The JupyterLab server's command line (its token comes from ``JUPYTER_TOKEN``)."""
    return [
        LAB_PYTHON,
        "-I",  # candidate files in the working directory cannot shadow JupyterLab's modules
        "/opt/lab/bin/jupyter-lab",
        "--no-browser",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",
        f"--ServerApp.root_dir={root_dir}",
        f"--ServerApp.base_url={base_url}",
        "--ServerApp.terminals_enabled=True",
        # Not a login shell: Debian's /etc/profile would drop /opt/venv/bin from PATH.
        "--ServerApp.terminado_settings=shell_command=/bin/bash",
        "--LabApp.news_url=None",
        "--LabApp.check_for_updates_class=jupyterlab.handlers.announcements.NeverCheckForUpdate",
        "--LabApp.extension_manager=readonly",
    ]


def ensure_lab(
    workspace: Sandbox,
    token: str,
    *,
    run_id: str,
    timeout: float = START_TIMEOUT_S,
    base_url: str = LAB_BASE_URL,
) -> LabStatus:
    """Make sure JupyterLab runs in ``workspace`` (a running workspace container) with
    ``token`` under ``base_url``, and answers. Starts it when it does not run; a server that
    runs with another token or another base URL (an older one) is replaced. Concurrent calls
    start one server.

    Raises ServiceNotReady (naming the run, with the log's tail) when it does not answer
    within ``timeout`` seconds, ImageError when the image has no JupyterLab.
    """
    config: dict[str, Any] = {
        "command": lab_command(base_url=base_url),
        "port": LAB_PORT,
        "base_url": base_url,
        "root_dir": ROOT_DIR,
        "state_dir": STATE_DIR,
        "log": LOG_FILE,
        "timeout": timeout,
        "workspace_python": WORKSPACE_PYTHON,
        "kernel_name": KERNEL_NAME,
        "kernel_display_name": KERNEL_DISPLAY_NAME,
    }
    try:
        result = workspace.exec(
            [LAB_PYTHON, "-I", "-c", script("lab_launcher.py"), json.dumps(config)],
            user=CANDIDATE_USER,
            env={"JUPYTER_TOKEN": token},
            timeout=timeout + 30,
        )
    except ExecTimeout as exc:
        raise ServiceNotReady(
            f"JupyterLab did not come up in the workspace of run {run_id}: {exc}"
        ) from exc
    if result.exit_code in (126, 127):
        raise ImageError(
            f"the workspace image of run {run_id} has no JupyterLab ({LAB_PYTHON}): "
            "it was built before the workspace-tools layer; rebuild the challenge image"
        )
    lines = result.stdout.strip().splitlines()
    if not result.ok or not lines:
        raise ProdprovenError(
            f"starting JupyterLab in the workspace of run {run_id} failed "
            f"(exit {result.exit_code}): {(result.stderr or result.stdout)[-1500:]}"
        )
    report = json.loads(lines[-1])
    if not report["ok"]:
        raise ServiceNotReady(
            f"JupyterLab did not come up in the workspace of run {run_id} "
            f"({report['reason']}); last lines of {LOG_FILE}:\n{report['log']}"
        )
    return LabStatus(
        started=bool(report["started"]),
        pid=report["pid"],
        ready_s=float(report["ready_s"]),
        kernel=str(report["kernel"]),
    )
