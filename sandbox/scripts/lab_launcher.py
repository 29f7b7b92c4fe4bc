"""Starts JupyterLab in a workspace (runner/runs/lab.py) unless it already answers, and prints
one JSON report line. Runs in the workspace container as the candidate, with JupyterLab's own
Python (-I). It holds a lock while it checks and starts, so two callers never start two
servers; it starts the server in a session of its own with its output in the log, so the exec
returns. Usage: lab_launcher CONFIG_JSON"""

import fcntl
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request

from jupyter_core.paths import jupyter_data_dir

KERNEL_PROBE_TIMEOUT_S = 30
"""How long the workspace's Python may take to say whether it has ipykernel."""

cfg = json.loads(sys.argv[1])
token = os.environ["JUPYTER_TOKEN"]
os.makedirs(cfg["state_dir"], mode=0o700, exist_ok=True)
pid_file = os.path.join(cfg["state_dir"], "jupyterlab.pid")
kernel_dir = os.path.join(jupyter_data_dir(), "kernels", cfg["kernel_name"])
began = time.monotonic()


def status():
    request = urllib.request.Request(
        f"http://127.0.0.1:{cfg['port']}{cfg['base_url']}api/status",
        headers={"Authorization": "token " + token},
    )
    try:
        with urllib.request.urlopen(request, timeout=2) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except Exception:
        return None


def lab_pid():
    try:
        with open(pid_file) as fh:
            pid = int(fh.read())
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            return pid if b"jupyter-lab" in fh.read() else None
    except (OSError, ValueError):
        return None


def stop(pid):
    try:
        os.killpg(pid, signal.SIGTERM)
        for _ in range(50):
            time.sleep(0.1)
            if lab_pid() != pid:
                return
        os.killpg(pid, signal.SIGKILL)
    except OSError:
        pass


def kernel():
    return "workspace" if os.path.exists(os.path.join(kernel_dir, "kernel.json")) else "lab"


def register_kernel():
    probe = "import importlib.util, sys; sys.exit(importlib.util.find_spec('ipykernel') is None)"
    try:
        found = subprocess.run(
            [cfg["workspace_python"], "-I", "-c", probe],
            capture_output=True,
            timeout=KERNEL_PROBE_TIMEOUT_S,
        )
    except (OSError, subprocess.TimeoutExpired):
        return
    if found.returncode != 0:
        return
    spec = {
        "argv": [cfg["workspace_python"], "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": cfg["kernel_display_name"],
        "language": "python",
        "metadata": {"debugger": True},
    }
    os.makedirs(kernel_dir, exist_ok=True)
    with open(os.path.join(kernel_dir, "kernel.json"), "w") as fh:
        json.dump(spec, fh, indent=1)


def log_tail():
    try:
        with open(cfg["log"], "rb") as fh:
            fh.seek(0, os.SEEK_END)
            fh.seek(max(0, fh.tell() - 3000))
            return fh.read().decode("utf-8", "replace")
    except OSError:
        return "(no log)"


def done(ok, started, pid, reason=""):
    print(
        json.dumps(
            {
                "ok": ok,
                "started": started,
                "pid": pid,
                "kernel": kernel(),
                "reason": reason,
                "ready_s": round(time.monotonic() - began, 3) if started else 0.0,
                "log": "" if ok else log_tail(),
            }
        )
    )
    sys.exit(0)


with open(os.path.join(cfg["state_dir"], "lock"), "w") as lock:
    fcntl.flock(lock, fcntl.LOCK_EX)
    code, pid = status(), lab_pid()
    if code == 200:
        done(True, False, pid)
    proc = None
    if pid is not None and code is not None:
        # It answers, but not 200: another token (403) or another base URL (404).
        stop(pid)
        pid = None
    if pid is None:
        register_kernel()
        with open(cfg["log"], "ab") as log:
            proc = subprocess.Popen(
                cfg["command"],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=cfg["root_dir"],
                env=dict(os.environ, SHELL="/bin/bash"),
                start_new_session=True,
            )
        pid = proc.pid
        with open(pid_file, "w") as fh:
            fh.write(str(pid))
    deadline = began + cfg["timeout"]
    while True:
        if status() == 200:
            done(True, proc is not None, pid)
        if proc is not None and proc.poll() is not None:
            done(False, True, pid, f"it exited with status {proc.returncode}")
        if proc is None and lab_pid() is None:
            done(False, False, pid, "the starting server exited")
        if time.monotonic() > deadline:
            stop(pid)
            done(False, proc is not None, pid, f"no answer within {cfg['timeout']:.0f} s")
        time.sleep(0.1)
