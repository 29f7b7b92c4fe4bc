"""Supervisor of the churn model service: the service container's main process.

It runs the worker (`app.py`, HTTP on 127.0.0.1:8000), restarts it whenever it exits (with a
backoff, so a worker that cannot start does not spin), and writes one log for both:
`/workspace/service/logs/service.log`, every line stamped in UTC. A control API on
127.0.0.1:8001 reports the worker's state (`GET /status`) and restarts it gracefully
(`POST /restart`), which is how a changed config or model is picked up; `svcctl` is its client.

Standard library only and tiny on purpose: when the worker outgrows the container's memory the
kernel's OOM killer must pick the worker, and this process must live on to restart it.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import IO, Any

WORKER = [sys.executable, str(Path(__file__).with_name("app.py"))]
LOG_PATH = Path(os.environ.get("MODELSVC_DIR", "/workspace/service")) / "logs" / "service.log"
CONTROL_ADDRESS = ("127.0.0.1", 8001)
BACKOFF_MIN_S, BACKOFF_MAX_S = 0.5, 4.0
# A worker that stayed up this long was healthy: its next crash starts the backoff afresh.
BACKOFF_RESET_S = 30.0
STOP_GRACE_S = 5.0


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class Log:
    """service.log, shared by the supervisor and the worker's output; safe across threads.

    Reopened when the file was moved or deleted (someone rotated it), so lines keep landing
    where people look for them."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._lock = threading.Lock()
        self._file = self._open()

    def _open(self) -> IO[str]:
        self._path.parent.mkdir(parents=True, exist_ok=True)
        return self._path.open("a", buffering=1, encoding="utf-8", errors="replace")

    def write(self, source: str, message: str) -> None:
        with self._lock:
            try:
                moved = os.stat(self._path).st_ino != os.fstat(self._file.fileno()).st_ino
            except FileNotFoundError:
                moved = True
            if moved:
                self._file.close()
                self._file = self._open()
            self._file.write(f"{utc_now()} [{source}] {message.rstrip()}\n")


def describe_exit(code: int) -> str:
    if code >= 0:
        return f"exited with code {code}"
    number = -code
    name = signal.Signals(number).name if number in signal.valid_signals() else "?"
    hint = "; out of memory?" if number == signal.SIGKILL else ""
    return f"killed by signal {number} ({name}{hint})"


class Supervisor:
    """Keeps one worker running; thread-safe for the control API's handlers."""

    def __init__(self, log: Log) -> None:
        self._log = log
        self._lock = threading.Lock()
        self._proc: subprocess.Popen[bytes] | None = None
        self._started = 0.0
        self._started_at = ""
        self._state = "starting"
        self._restarts = 0
        self._last_exit: dict[str, Any] | None = None
        self._manual = threading.Event()  # the running worker is being restarted on request
        self._wake = threading.Event()  # cuts a backoff short
        self._stopping = threading.Event()

    def run(self) -> None:
        """Start the worker and restart it until SIGTERM; returns when stopped."""
        self._log.write("supervisor", f"supervisor started pid {os.getpid()}")
        backoff = BACKOFF_MIN_S
        while not self._stopping.is_set():
            proc, pump = self._spawn()
            code = proc.wait()
            pump.join(timeout=2)  # the worker's last words go to the log before its exit
            uptime = time.monotonic() - self._started
            with self._lock:
                self._last_exit = {"at": utc_now(), "code": code, "reason": describe_exit(code)}
                self._state = "exited"
                manual = self._manual.is_set()
            if self._stopping.is_set():
                break
            if manual:
                self._log.write("supervisor", f"worker {describe_exit(code)} for a restart")
                backoff = BACKOFF_MIN_S
                continue
            if uptime >= BACKOFF_RESET_S:
                backoff = BACKOFF_MIN_S
            with self._lock:
                self._restarts += 1
                self._state = "backoff"
                restarts = self._restarts
            self._log.write(
                "supervisor",
                f"worker {describe_exit(code)} after {uptime:.1f} s - restarting in "
                f"{backoff:g} s, restart #{restarts}",
            )
            self._wake.wait(backoff)
            backoff = min(backoff * 2, BACKOFF_MAX_S)
        self._log.write("supervisor", "supervisor stopped")

    def _spawn(self) -> tuple[subprocess.Popen[bytes], threading.Thread]:
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        proc = subprocess.Popen(
            WORKER,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
        )
        with self._lock:
            self._proc = proc
            self._started = time.monotonic()
            self._started_at = utc_now()
            self._state = "running"
            self._manual.clear()
            self._wake.clear()
        self._log.write("supervisor", f"worker started pid {proc.pid}")
        assert proc.stdout is not None
        pump = threading.Thread(target=self._pump, args=(proc.pid, proc.stdout), daemon=True)
        pump.start()
        return proc, pump

    def _pump(self, pid: int, stream: IO[bytes]) -> None:
        for line in iter(stream.readline, b""):
            self._log.write(f"worker {pid}", line.decode("utf-8", "replace"))

    def status(self) -> dict[str, Any]:
        with self._lock:
            running = self._state == "running"
            return {
                "pid": self._proc.pid if running and self._proc else None,
                "state": self._state,
                "started_at": self._started_at if running else None,
                "uptime_s": round(time.monotonic() - self._started, 1) if running else 0.0,
                "restarts": self._restarts,
                "last_exit": self._last_exit,
                "supervisor_pid": os.getpid(),
            }

    def restart(self) -> dict[str, Any]:
        """Stop the worker gracefully and start a new one (which re-reads the config)."""
        with self._lock:
            old = self._proc
            self._manual.set()
            self._state = "restarting"
        self._log.write("supervisor", "restart requested")
        self._wake.set()
        if old is not None and old.poll() is None:
            stop(old)
        deadline = time.monotonic() + STOP_GRACE_S
        while time.monotonic() < deadline:
            with self._lock:
                if self._proc is not old and self._state == "running":
                    break
            time.sleep(0.05)
        return self.status()

    def shutdown(self) -> None:
        """Stop for good (SIGTERM, e.g. `docker stop`): the worker first, then the loop."""
        self._stopping.set()
        self._wake.set()
        with self._lock:
            proc = self._proc
        if proc is not None and proc.poll() is None:
            threading.Thread(target=stop, args=(proc,), daemon=True).start()


def stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM, then SIGKILL when the worker has not exited within the grace period."""
    proc.terminate()
    try:
        proc.wait(STOP_GRACE_S)
    except subprocess.TimeoutExpired:
        proc.kill()


def control_server(supervisor: Supervisor) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path == "/status":
                self._reply(200, supervisor.status())
            else:
                self._reply(404, {"error": "try GET /status or POST /restart"})

        def do_POST(self) -> None:
            if self.path == "/restart":
                self._reply(200, supervisor.restart())
            else:
                self._reply(404, {"error": "try GET /status or POST /restart"})

        def _reply(self, code: int, payload: dict[str, Any]) -> None:
            body = json.dumps(payload).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (stdlib's name)
            pass

    server = ThreadingHTTPServer(CONTROL_ADDRESS, Handler)
    server.daemon_threads = True
    return server


def main() -> None:
    supervisor = Supervisor(Log(LOG_PATH))
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: supervisor.shutdown())
    server = control_server(supervisor)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    supervisor.run()


if __name__ == "__main__":
    main()
