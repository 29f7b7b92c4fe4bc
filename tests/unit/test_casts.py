"""Terminal recordings read back (runner/runs/casts.py): their events timed from the header,
the transcript without escape sequences, the playback's timeline with long pauses shortened
as the player shows them, and the moments that fall in a recording as its markers."""

from __future__ import annotations

import json

import pytest

from prodproven.runner.runs.casts import (
    PLAY_IDLE_LIMIT_S,
    CastEvent,
    Marker,
    read_cast,
    transcript,
    view,
)
from prodproven.runner.runs.workprocess import Moment
from tests.unit.workprocess_support import CAST, T0, at


def cast_of(*events: tuple[float, str, str]) -> bytes:
    header = json.dumps({"version": 2, "width": 80, "height": 24, "timestamp": T0.timestamp()})
    return "\n".join([header, *(json.dumps(list(e)) for e in events)]).encode() + b"\n"


# events 1 s, 2 s, then a 60 s pause, then 0.5 s
RECORDED = read_cast(
    cast_of((1.0, "o", "$ "), (3.0, "i", "ls\r"), (63.0, "o", "a\r\n"), (63.5, "o", "$ "))
)


def test_events_are_timed_from_the_headers_timestamp() -> None:
    assert RECORDED.started == T0
    assert RECORDED.events[:2] == [CastEvent(at(1), "o", "$ "), CastEvent(at(3), "i", "ls\r")]
    assert RECORDED.duration_s == 63.5


def test_unreadable_lines_are_skipped_and_a_file_without_header_has_no_events() -> None:
    lines = [json.dumps({"version": 2, "timestamp": T0.timestamp()}), "[1.0, 'o'", "[2, 9]"]
    lines.append(json.dumps([3.0, "o", "ok"]))
    assert read_cast("\n".join(lines).encode()).events == [CastEvent(at(3), "o", "ok")]
    empty = read_cast(b'[1.0, "o", "no header"]\n')
    assert (empty.events, empty.duration_s) == ([], 0.0)


def test_the_transcript_is_the_output_without_escape_sequences() -> None:
    shown = cast_of(
        (1.0, "o", "<script>alert(1)</script>\x1b[31mred\x1b[0m\r\n"),
        (2.0, "i", "typed"),
        (3.0, "o", "ok\x07"),
    )
    assert transcript(shown) == "<script>alert(1)</script>red\nok"


@pytest.mark.parametrize(
    ("seconds", "played"),
    [
        (0.0, 0.0),
        (1.0, 1.0),  # pauses up to the limit are kept
        (3.0, 3.0),
        (33.0, 3.0 + PLAY_IDLE_LIMIT_S / 2),  # halfway through the long pause
        (63.0, 3.0 + PLAY_IDLE_LIMIT_S),  # the 60 s pause lasts the limit
        (63.5, 3.5 + PLAY_IDLE_LIMIT_S),
    ],
)
def test_the_playback_shortens_each_pause_to_the_idle_limit(seconds: float, played: float) -> None:
    assert RECORDED.played_s(at(seconds)) == pytest.approx(played)


def test_moments_within_a_recording_become_its_markers_and_others_do_not() -> None:
    moments = [
        Moment("incident injected", at(-5), 0),  # before the recording started
        Moment("in another terminal", at(20), 0, recording="terminal-2-1.cast"),
        Moment("first command or cell after it", at(33), 0),
        Moment("submitted", at(63.5), 0),  # at its last event: still in it
        Moment("later", at(64), 0),  # after its last event
    ]
    shown = view(CAST, RECORDED, moments)
    assert (shown.name, shown.started, shown.duration_s) == (CAST, T0, 63.5)
    assert shown.markers == [
        Marker(33.0, 4.0, "first command or cell after it"),
        Marker(63.5, 5.5, "submitted"),
    ]
    assert shown.player_markers == [(4.0, "first command or cell after it"), (5.5, "submitted")]


def test_a_command_is_a_marker_of_the_recording_it_was_typed_in_only() -> None:
    """Recordings' starts are whole seconds: another terminal opened just after a command
    may seem to span it."""
    typed = Moment("first command or cell after it", at(1), 0, recording="terminal-2-1.cast")
    assert view(CAST, RECORDED, [typed]).markers == []
    assert view("terminal-2-1.cast", RECORDED, [typed]).markers == [
        Marker(1.0, 1.0, "first command or cell after it")
    ]
