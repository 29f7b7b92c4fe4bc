#!/opt/venv/bin/python
"""svcctl: the on-call tool for the churn model service (there is no curl in the image).

    svcctl status           the supervisor's view of the worker, and whether /health answers
    svcctl restart          restart the worker (it re-reads the config); waits until healthy
    svcctl logs [-n N] [-f] the end of /workspace/service/logs/service.log
    svcctl metrics          the worker's /metrics
    svcctl config           the config file's path and content
    svcctl predict [JSON]   POST a body (argument or stdin) to /predict; prints status and time

Standard library only, so it works whatever state the service is in.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import urllib.error
import urllib.request
from collections import deque
from pathlib import Path
from typing import Any

SERVICE_DIR = Path(os.environ.get("MODELSVC_DIR", "/workspace/service"))
SERVICE = "http://127.0.0.1:8000"
CONTROL = "http://127.0.0.1:8001"
RESTART_WAIT_S = 30.0


def call(url: str, body: bytes | None = None, timeout: float = 2.0) -> tuple[int, bytes, float]:
    """(status, body, milliseconds) of one request; raises OSError when nothing answers."""
    request = urllib.request.Request(url, body, {"Content-Type": "application/json"})
    start = time.perf_counter()
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            status, data = response.status, response.read()
    except urllib.error.HTTPError as exc:
        status, data = exc.code, exc.read()
    return status, data, (time.perf_counter() - start) * 1000


def health() -> tuple[bool, str]:
    try:
        status, data, ms = call(f"{SERVICE}/health")
    except OSError as exc:
        return False, f"no answer ({exc})"
    if status != 200:
        return False, f"HTTP {status} in {ms:.1f} ms: {data[:200].decode(errors='replace')}"
    return True, f"ok, model {json.loads(data).get('model')} ({ms:.1f} ms)"


def status(_: argparse.Namespace) -> int:
    try:
        info: dict[str, Any] = json.loads(call(f"{CONTROL}/status")[1])
    except OSError as exc:
        print(f"supervisor: no answer on {CONTROL} ({exc}); is the service container up?")
        return 1
    if info["state"] == "running":
        print(f"worker:     pid {info['pid']}, running for {info['uptime_s']:.1f} s")
    else:
        print(f"worker:     {info['state']}")
    print(f"restarts:   {info['restarts']} (automatic, after the worker exited)")
    last = info.get("last_exit")
    if last:
        print(f"last exit:  {last['reason']} at {last['at']}")
    ok, text = health()
    print(f"health:     {text}")
    return 0 if ok else 1


def restart(_: argparse.Namespace) -> int:
    try:
        info = json.loads(call(f"{CONTROL}/restart", b"", timeout=15)[1])
    except OSError as exc:
        print(f"supervisor: no answer on {CONTROL} ({exc})")
        return 1
    print(f"restarting: new worker pid {info['pid']}")
    start = time.monotonic()
    while time.monotonic() - start < RESTART_WAIT_S:
        ok, text = health()
        if ok:
            print(f"healthy after {time.monotonic() - start:.1f} s: {text}")
            return 0
        time.sleep(0.25)
    print(f"not healthy after {RESTART_WAIT_S:g} s ({text}); see `svcctl logs`")
    return 1


def logs(args: argparse.Namespace) -> int:
    path = SERVICE_DIR / "logs" / "service.log"
    try:
        with path.open(encoding="utf-8", errors="replace") as fh:
            sys.stdout.writelines(deque(fh, maxlen=args.n))
            while args.follow:
                line = fh.readline()
                if line:
                    sys.stdout.write(line)
                    sys.stdout.flush()
                else:
                    time.sleep(0.2)
    except FileNotFoundError:
        print(f"{path} does not exist yet")
        return 1
    except KeyboardInterrupt:
        pass
    return 0


def metrics(_: argparse.Namespace) -> int:
    try:
        status_code, data, _ms = call(f"{SERVICE}/metrics")
    except OSError as exc:
        print(f"no answer from {SERVICE}/metrics ({exc})")
        return 1
    sys.stdout.write(data.decode(errors="replace"))
    return 0 if status_code == 200 else 1


def config(_: argparse.Namespace) -> int:
    path = SERVICE_DIR / "config.yaml"
    print(f"# {path}")
    sys.stdout.write(path.read_text())
    return 0


def predict(args: argparse.Namespace) -> int:
    body = (args.body if args.body is not None else sys.stdin.read()).encode()
    try:
        status_code, data, ms = call(f"{SERVICE}/predict", body, timeout=30)
    except OSError as exc:
        print(f"no answer from {SERVICE}/predict ({exc})")
        return 1
    print(f"HTTP {status_code} in {ms:.1f} ms")
    print(data.decode(errors="replace"))
    return 0 if status_code == 200 else 1


def main() -> int:
    parser = argparse.ArgumentParser(prog="svcctl", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("status", help="worker state and health").set_defaults(run=status)
    commands.add_parser("restart", help="restart the worker, wait for health").set_defaults(
        run=restart
    )
    tail = commands.add_parser("logs", help="the end of service.log")
    tail.add_argument("-n", type=int, default=50, help="lines to show (default 50)")
    tail.add_argument("-f", "--follow", action="store_true", help="keep printing new lines")
    tail.set_defaults(run=logs)
    commands.add_parser("metrics", help="the worker's /metrics").set_defaults(run=metrics)
    commands.add_parser("config", help="print the config file").set_defaults(run=config)
    post = commands.add_parser("predict", help="POST a JSON body to /predict")
    post.add_argument("body", nargs="?", help="the JSON body (default: read stdin)")
    post.set_defaults(run=predict)
    args = parser.parse_args()
    return int(args.run(args))


if __name__ == "__main__":
    sys.exit(main())
