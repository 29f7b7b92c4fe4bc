"""How a candidate worked, read back for assessors from the run's recordings
(``runner/runs/recording.py``), its workspace timeline (``runner/runs/timeline.py``) and its
events: a summary, the moments that matter, and work-process signals.

Signals are evidence for a person to judge, never penalties: nothing here changes a score.

- **Activity** is every terminal event (typed or shown), every cell execution and every
  timeline step. Gaps between consecutive activities shorter than :data:`IDLE_S` add up to the
  active time; longer ones are idle gaps.
- **Commands** are rebuilt from a cast's ``i`` events: the typed characters up to each Enter,
  a backspace removing the character before it, escape sequences (arrow keys, history) and
  other control characters dropped. A command recalled from history or completed with Tab
  shows as what was typed, not as what ran: the transcript shows what ran.
- The recordings are read from ``recordings.tar`` once it is written at submit (the live
  folder may be gone), else from the live folder ``recordings/``; each terminal recording
  (``runner/runs/casts.py``) carries the moments that belong to it as markers for the player.
"""

from __future__ import annotations

import re
import tarfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from prodproven.runner.errors import RunNotFound
from prodproven.runner.runs.casts import (
    ANSI,
    CONTROL,
    CastEvent,
    RecordingView,
    json_line,
    read_cast,
    view,
)
from prodproven.runner.runs.recording import ARCHIVE, CELLS, RECORDINGS
from prodproven.runner.runs.retention import Removal, removal
from prodproven.runner.runs.timeline import Change, timeline_of

IDLE_S = 5 * 60
"""A gap between activities at least this long is idle, not active time."""
LONG_IDLE_S = 20 * 60
"""Idleness this long followed by most of the solution in one step is a signal."""
LARGE_BLOCK_LINES = 80
"""Lines added to one file in one timeline step (after the starter) that make a signal."""
MOST_OF_SOLUTION = 0.5
"""The share of all lines added after the starter that one step must add to be "most"."""
FOLLOWS_S = 5 * 60
"""How soon after an idle gap's end a step counts as following it."""
MAX_RECORDING_BYTES = 64 << 20
"""The most of one recording read back (recordings are capped at 20 MiB by default)."""
LOCAL_HOSTS = ("localhost", "127.0.0.1", "::1", "0.0.0.0")
Event = tuple[str, datetime, dict[str, Any]]
"""A run's event as (kind, at, data)."""

HIDDEN = re.compile(
    r"/grading\b|/hidden\b|\bhidden/|\bfind\s+/(\s|$)"
    r"|\b(find|locate|grep|rg)\b[^|;&\n]*(hidden|answer|solution|grading)",
    re.IGNORECASE,
)
"""A path into a hidden or grading folder, a search of the whole file system, or a search for
answers: a file the candidate wrote may be called ``solution.py`` and a model may have a
``hidden_size``, so the words alone are no signal."""
NETWORK = re.compile(
    r"(^|[\s;&|(!%])(curl|wget|pip3?\s+install|python3?\s+-m\s+pip\s+install|git\s+clone"
    r"|nc|ncat|netcat|ssh|scp|telnet|ftp)(\s|$)"
)
URL_HOST = re.compile(r"(?:[a-z]+://)?(?:[^@\s/]+@)?([A-Za-z0-9.-]+\.[A-Za-z]{2,}|\d+(?:\.\d+){3})")


@dataclass(frozen=True)
class Command:
    at: datetime
    recording: str
    text: str


@dataclass(frozen=True)
class Cell:
    at: datetime
    code: str
    status: str
    """``ok``, ``error``, ``aborted``, or ``started`` when no reply was recorded."""

    @property
    def first_lines(self) -> str:
        return "\n".join(self.code.splitlines()[:3])


@dataclass(frozen=True)
class Gap:
    start: datetime
    end: datetime

    @property
    def seconds(self) -> float:
        return (self.end - self.start).total_seconds()


@dataclass(frozen=True)
class Moment:
    what: str
    at: datetime
    after_s: float
    """Seconds since the run started."""
    detail: str = ""
    recording: str = ""
    """The terminal recording a command was typed in; empty for the others."""


@dataclass(frozen=True)
class Signal:
    kind: str
    """``large block``, ``idle then solution``, ``hidden material`` or ``network``."""
    what: str
    at: datetime
    evidence: str


@dataclass(frozen=True)
class Summary:
    active_s: float
    idle: list[Gap]
    commands: int
    cells: int
    files: list[str]


@dataclass
class WorkProcess:
    started: datetime
    summary: Summary
    moments: list[Moment]
    signals: list[Signal]
    changes: list[Change]
    cells: list[Cell]
    commands: list[Command]
    recordings: list[RecordingView]
    """Each terminal recording, with the moments that belong to it as markers."""
    expired: Removal | None = None
    """When the recordings and timeline were deleted past their retention (``retention.py``)."""


class Recordings:
    """A run's recorded files, from ``recordings.tar`` when it exists, else the live folder."""

    def __init__(self, run_root: Path) -> None:
        self.archive = run_root / ARCHIVE
        self.folder = run_root / RECORDINGS

    def names(self) -> list[str]:
        if self.archive.is_file():
            with tarfile.open(self.archive) as tar:
                return sorted(m.name for m in tar.getmembers() if m.isfile())
        if self.folder.is_dir():
            return sorted(p.name for p in self.folder.iterdir() if p.is_file())
        return []

    def casts(self) -> list[str]:
        return [n for n in self.names() if n.endswith(".cast")]

    def read(self, name: str) -> bytes:
        """The recorded file ``name``. Raises RunNotFound when the run has none such."""
        if name not in self.names():
            raise RunNotFound(f"the run in {self.archive.parent} has no recording {name!r}")
        if self.archive.is_file():
            with tarfile.open(self.archive) as tar:
                handle = tar.extractfile(name)
                assert handle is not None, "names() lists regular files only"
                return handle.read(MAX_RECORDING_BYTES)
        with (self.folder / name).open("rb") as fh:
            return fh.read(MAX_RECORDING_BYTES)


def commands(recording: str, events: Sequence[CastEvent]) -> list[Command]:
    """The lines typed in a recording, each at the time of its Enter (see the module's doc)."""
    found: list[Command] = []
    typed = ""
    for event in events:
        if event.code != "i":
            continue
        for char in ANSI.sub("", event.data):
            if char in "\r\n":
                if typed.strip():
                    found.append(Command(event.at, recording, typed.strip()))
                typed = ""
            elif char in "\x7f\x08":
                typed = typed[:-1]
            elif char in "\x03\x15":  # Ctrl-C, Ctrl-U: the line is dropped
                typed = ""
            elif not CONTROL.match(char):
                typed += char
    return found


def cells(content: bytes) -> list[Cell]:
    """The cell executions of ``cells.jsonl``, each with its reply's status."""
    started: dict[str, tuple[datetime, str]] = {}
    status: dict[str, str] = {}
    for line in content.decode(errors="replace").splitlines():
        item = json_line(line)
        if not isinstance(item, dict) or not isinstance(item.get("t"), int | float):
            continue
        key = f"{item.get('kernel')}/{item.get('msg_id')}"
        if item.get("status") == "started":
            started[key] = (datetime.fromtimestamp(item["t"], UTC), str(item.get("code") or ""))
        else:
            status[key] = str(item.get("status"))
    return sorted(
        (Cell(at, code, status.get(key, "started")) for key, (at, code) in started.items()),
        key=lambda c: c.at,
    )


def read(run_root: Path, events: Sequence[Event], started: datetime) -> WorkProcess:
    """How the candidate of the run whose folder is ``run_root`` worked, the run having
    started at ``started`` (``events`` the run's, oldest first). Raises OSError and
    tarfile.TarError (the recordings cannot be read)."""
    recorded = Recordings(run_root)
    typed: list[Command] = []
    activity: list[datetime] = []
    casts = {name: read_cast(recorded.read(name)) for name in recorded.casts()}
    for name, cast in casts.items():
        typed += commands(name, cast.events)
        activity += [e.at for e in cast.events if e.code in "oi"]
    executed = cells(recorded.read(CELLS)) if CELLS in recorded.names() else []
    changes = timeline_of(run_root).changes()
    typed.sort(key=lambda c: c.at)
    activity += [c.at for c in executed] + [c.at for c in changes]
    active, idle = _activity(sorted(activity))
    summary = Summary(
        active, idle, len(typed), len(executed), sorted({c.path for c in changes if c.step})
    )
    lines = [(c.at, c.text) for c in typed]
    lines += [(c.at, line) for c in executed for line in c.code.splitlines()]
    moments = _moments(events, started, typed, executed)
    return WorkProcess(
        started,
        summary,
        moments,
        _changes_signals(changes, idle) + line_signals(sorted(lines)),
        changes,
        executed,
        typed,
        [view(name, cast, moments) for name, cast in casts.items()],
        removal(events),
    )


def _activity(times: list[datetime]) -> tuple[float, list[Gap]]:
    active = 0.0
    idle = []
    for before, after in zip(times, times[1:], strict=False):
        gap = (after - before).total_seconds()
        if gap < IDLE_S:
            active += gap
        else:
            idle.append(Gap(before, after))
    return active, idle


def _moments(
    events: Sequence[Event], started: datetime, typed: list[Command], executed: list[Cell]
) -> list[Moment]:
    found = []
    for kind, at, data in events:
        if kind == "incident.injected":
            found.append(("incident injected", at, str(data.get("fault", "")), ""))
            after = [(c.at, c.text, c.recording) for c in typed if c.at >= at]
            after += [(c.at, c.first_lines, "") for c in executed if c.at >= at]
            if after:
                first, detail, recording = min(after)
                found.append(("first command or cell after it", first, detail, recording))
        elif kind == "status.submitted":
            found.append(("submitted", at, "", ""))
    return [Moment(w, at, (at - started).total_seconds(), d, r) for w, at, d, r in found]


def _changes_signals(changes: list[Change], idle: list[Gap]) -> list[Signal]:
    later = [c for c in changes if c.step]
    total = sum(c.added or 0 for c in later)
    by_step: dict[int, int] = {}
    for change in later:
        by_step[change.step] = by_step.get(change.step, 0) + (change.added or 0)
    found = [
        Signal(
            "large block",
            f"{c.added} lines added to {c.path} in one step",
            c.at,
            f"timeline step {c.step}: {c.path} +{c.added} -{c.removed}",
        )
        for c in later
        if (c.added or 0) >= LARGE_BLOCK_LINES
    ]
    for gap in (g for g in idle if g.seconds >= LONG_IDLE_S):
        for change in later:
            added = by_step[change.step]
            follows = 0 <= (change.at - gap.end).total_seconds() <= FOLLOWS_S
            if follows and total and added >= MOST_OF_SOLUTION * total:
                found.append(
                    Signal(
                        "idle then solution",
                        f"{round(gap.seconds / 60)} min idle, then {added} of the {total} "
                        "lines added over the run in one step",
                        change.at,
                        f"timeline step {change.step}",
                    )
                )
                break
    return found


def line_signals(lines: list[tuple[datetime, str]]) -> list[Signal]:
    """The hidden-material and network signals of commands and cells' lines (time, text)."""
    found = []
    for at, line in lines:
        if HIDDEN.search(line):
            found.append(Signal("hidden material", "looked for hidden material", at, line))
        if NETWORK.search(line) and _leaves_pod(line):
            found.append(Signal("network", "tried to reach the network", at, line))
    return found


def _leaves_pod(line: str) -> bool:
    """Whether a network command names a host outside the pod: a dotted name or an address
    other than the local ones (the pod's services are reached by plain names); pip and git
    clone always do, unless they install from a local path."""
    if re.search(r"pip3?\s+install|git\s+clone", line):
        return not re.search(r"install\s+(-e\s+)?\.{1,2}(/|\s|$)", line)
    hosts = URL_HOST.findall(line)
    return any(h not in LOCAL_HOSTS for h in hosts)
