"""Terminal recordings read back (``runner/runs/recording.py`` writes them in the asciicast v2
format): their events timed from the header's ``timestamp``, a plain transcript, and where
the moments that matter fall in each, for the run page's player
(``runner/present/static/recordings.js``, the ``asciinema-player`` component).

A moment typed in a terminal (a command) is a marker of that terminal's recording only; any
other moment is a marker of each recording whose span it falls in, from the recording's start
(its header's ``timestamp``) to its last event.
The player shortens every pause longer than :data:`PLAY_IDLE_LIMIT_S` to that (its
``idleTimeLimit``) and takes markers on that shortened timeline, so each marker is given both
ways: seconds into the recording as recorded, and seconds into its playback (a moment within
a shortened pause keeps its place in proportion, so markers keep their order).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

PLAY_IDLE_LIMIT_S = 2.0
"""The longest pause the player shows (asciinema-player's ``idleTimeLimit``)."""
ANSI = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[PX^_][^\x1b]*\x1b\\|\x1b.?"
)
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


@dataclass(frozen=True)
class CastEvent:
    at: datetime
    code: str
    data: str


@dataclass(frozen=True)
class CastRecording:
    """A recording as read: its start and its events, oldest first."""

    started: datetime
    events: list[CastEvent]

    @property
    def duration_s(self) -> float:
        """Seconds from the start to the last event (0 without events)."""
        return self.seconds_in(self.events[-1].at) if self.events else 0.0

    def seconds_in(self, at: datetime) -> float:
        return (at - self.started).total_seconds()

    def played_s(self, at: datetime) -> float:
        """Seconds into the playback at which the player shows time ``at``: each pause
        between events (and before the first) lasts at most PLAY_IDLE_LIMIT_S, and a time
        within a pause is placed in proportion within what is left of it."""
        target = self.seconds_in(at)
        played = previous = 0.0
        for event in self.events:
            t = max(self.seconds_in(event.at), previous)
            pause = t - previous
            if t >= target:
                shown = min(pause, PLAY_IDLE_LIMIT_S)
                return played + (shown * (target - previous) / pause if pause else 0.0)
            played += min(pause, PLAY_IDLE_LIMIT_S)
            previous = t
        return played + min(max(target - previous, 0.0), PLAY_IDLE_LIMIT_S)


class Moment(Protocol):
    """A moment that matters (``runner/runs/workprocess.py`` finds them)."""

    @property
    def what(self) -> str: ...
    @property
    def at(self) -> datetime: ...
    @property
    def recording(self) -> str:
        """The recording the moment was typed in; empty when none."""
        ...


@dataclass(frozen=True)
class Marker:
    at_s: float
    """Seconds into the recording, as recorded."""
    played_s: float
    """Seconds into its playback, pauses shortened to PLAY_IDLE_LIMIT_S."""
    what: str


@dataclass(frozen=True)
class RecordingView:
    """A terminal recording on the run page: its file's name, span and markers."""

    name: str
    started: datetime
    duration_s: float
    markers: list[Marker]

    @property
    def player_markers(self) -> list[tuple[float, str]]:
        """The markers as the player takes them: ``[seconds into the playback, label]``."""
        return [(m.played_s, m.what) for m in self.markers]


def read_cast(content: bytes) -> CastRecording:
    """An asciicast v2 recording, its events timed from its header's timestamp; lines that
    cannot be read (a crash mid-line) are skipped, and so is a file without a header."""
    lines = content.decode(errors="replace").splitlines()
    header = json_line(lines[0]) if lines else None
    if not isinstance(header, dict):
        return CastRecording(datetime.fromtimestamp(0, UTC), [])
    start = datetime.fromtimestamp(float(header.get("timestamp", 0)), UTC)
    found = []
    for line in lines[1:]:
        event = json_line(line)
        if isinstance(event, list) and len(event) == 3 and isinstance(event[0], int | float):
            found.append(CastEvent(start + timedelta(seconds=event[0]), *map(str, event[1:])))
    return CastRecording(start, found)


def transcript(content: bytes) -> str:
    """A recording's output as plain text: escape sequences and control characters dropped."""
    shown = "".join(e.data for e in read_cast(content).events if e.code == "o")
    return CONTROL.sub("", ANSI.sub("", shown.replace("\r\n", "\n")))


def view(name: str, cast: CastRecording, moments: Sequence[Moment]) -> RecordingView:
    """Recording ``name`` with a marker for each of ``moments`` that belongs to it: typed in
    it, or typed nowhere and within its span."""
    duration = cast.duration_s
    markers = [
        Marker(round(cast.seconds_in(m.at), 3), round(cast.played_s(m.at), 3), m.what)
        for m in moments
        if m.recording == name or (not m.recording and 0 <= cast.seconds_in(m.at) <= duration)
    ]
    return RecordingView(name, cast.started, duration, markers)


def json_line(line: str) -> Any:
    """The JSON value of ``line``, or None when it is not JSON."""
    try:
        return json.loads(line)
    except ValueError:
        return None
