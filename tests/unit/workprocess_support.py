"""A run folder with planted recordings and a workspace timeline, for the work-process tests:
a starter snapshot, a terminal where the candidate lists files, reads the grading folder,
fetches from pastebin, installs a package, reaches a pod service and answers the incident;
a cell; 26 idle minutes; then a 100-line solution in one step and a one-line fix."""

from __future__ import annotations

import json
from collections.abc import Generator
from datetime import UTC, datetime, timedelta
from pathlib import Path

from prodproven.runner.runs.timeline import timeline_of
from prodproven.sandbox import tarball

T0 = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
CAST = "terminal-1-1.cast"
TYPED = [
    (60.0, "o", "$ "),
    (61.0, "i", "ls\r"),
    (62.0, "o", "train.py\r\n"),
    (120.0, "i", "cat /grading/tests.py\r"),
    (130.0, "i", "curl https://pastebin.com/raw/x\r"),
    (135.0, "i", "curl http://mlflow:5000/health\r"),
    (140.0, "i", "pipp\x7f install requests\r"),
    (150.0, "o", "<script>alert(1)</script>\x1b[31mred\x1b[0m\r\n"),
    (200.0, "i", "tail -f log\r"),
]
INCIDENT_S = 180
SUBMIT_S = 33 * 60


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def stream(files: dict[str, bytes]) -> Generator[bytes, None, None]:
    yield tarball.files({f"./{path}": content for path, content in files.items()}, owner=1000)


def plant(root: Path, start: datetime = T0) -> None:
    """The recordings and timeline of the module's story in the run folder ``root``, its
    clock starting at ``start``."""
    recordings = root / "recordings"
    recordings.mkdir(parents=True)
    header = {"version": 2, "width": 80, "height": 24, "timestamp": start.timestamp()}
    lines = [json.dumps(header), *(json.dumps(list(event)) for event in TYPED)]
    (recordings / CAST).write_text("\n".join(lines) + "\n")
    t = (start + timedelta(minutes=4)).timestamp()
    cells = [
        {"t": t, "kernel": "k", "msg_id": "m1", "code": "import os\nprint(1)", "status": "started"},
        {"t": t + 1, "kernel": "k", "msg_id": "m1", "code": None, "status": "ok"},
    ]
    (recordings / "cells.jsonl").write_text("".join(json.dumps(c) + "\n" for c in cells))
    starter = {"train.py": b"a\nb\nc\n"}
    solution = "".join(f"line {n}\n" for n in range(100)).encode()
    timeline = timeline_of(root)
    for minutes, files in [
        (0, starter),
        (30, {**starter, "solution.py": solution}),
        (32, {"train.py": b"a\nb\nc\nd\n", "solution.py": solution}),
    ]:
        timeline.snapshot(stream(files), start + timedelta(minutes=minutes), cap_bytes=1 << 24)


def events(start: datetime = T0) -> list[tuple[str, datetime, dict[str, object]]]:
    return [
        ("status.running", start, {}),
        ("incident.injected", start + timedelta(seconds=INCIDENT_S), {"fault": "oom"}),
        ("status.submitted", start + timedelta(seconds=SUBMIT_S), {}),
    ]
