"""The recording benchmark (benchmarks/recording.py) on a few minutes of its traffic instead of
an hour: what the traffic is, that it reaches the recorders the proxy uses with its own times,
the cap's minute and the scaling to an hour."""

from __future__ import annotations

import json
import statistics
from pathlib import Path

import pytest

from benchmarks.recording import (
    HOUR_S,
    KERNEL,
    TERMINAL,
    overhead,
    recorded,
    replay,
    session,
)


def test_typical_typing_is_a_keystroke_about_every_0_3_s_each_echoed() -> None:
    frames = session("terminal typical", 600)
    typed = [f for f in frames if f.from_browser and json.loads(f.data)[0] == "stdin"]
    gaps = [b.at - a.at for a, b in zip(typed, typed[1:], strict=False)]
    within = [gap for gap in gaps if gap < 1]  # between commands the candidate is elsewhere
    assert min(gaps) >= 0.15 and 0.25 < statistics.median(within) < 0.35
    shown = {round(f.at, 9): json.loads(f.data)[1] for f in frames if not f.from_browser}
    for key in typed:
        echo = shown[round(key.at + 0.002, 9)]
        assert echo == ("\r\n" if json.loads(key.data)[1] == "\r" else json.loads(key.data)[1])


def test_typical_output_comes_in_chunks_no_larger_than_a_pty_gives() -> None:
    shown = [json.loads(f.data)[1] for f in session("terminal typical", 900) if not f.from_browser]
    assert max(len(text) for text in shown) == 4096  # a 300-line log tail is split
    assert "".join(shown).count("$ ") == 1 + sum(text == "\r\n" for text in shown)  # prompts


def test_the_heavy_profile_prints_a_line_every_50_ms() -> None:
    lines = [f.at for f in session("terminal heavy", 60) if not f.from_browser][-100:]
    gaps = [b - a for a, b in zip(lines, lines[1:], strict=False)]
    assert all(gap == pytest.approx(0.05) for gap in gaps)


def test_a_replay_records_each_frame_at_its_own_time_through_the_proxys_observer(
    tmp_path: Path,
) -> None:
    frames = session("terminal typical", 120)
    done = replay(frames, TERMINAL, tmp_path, 1 << 30)
    assert done.frames == len(frames) and done.capped_at_s is None
    (cast,) = tmp_path.glob("terminal-1-*.cast")
    events = [json.loads(line) for line in cast.read_text().splitlines()[1:]]
    # Events count from the header's whole second: each is the frame's time plus one offset.
    offset = events[0][0] - frames[0].at
    assert 0 <= offset < 1
    assert [e[0] - offset for e in events] == pytest.approx([f.at for f in frames], abs=1e-5)
    assert events[0][1:] == ["r", "120x40"]


def test_a_replay_of_cells_logs_each_execution_started_and_finished(tmp_path: Path) -> None:
    frames = session("cells", 300)
    requests = sum(1 for f in frames if f.from_browser)
    replay(frames, KERNEL, tmp_path, 1 << 30)
    logged = [json.loads(line) for line in (tmp_path / "cells.jsonl").read_text().splitlines()]
    assert requests >= 7 and len(logged) == 2 * requests
    assert {c["status"] for c in logged} <= {"started", "ok", "error"}
    assert all("groupby" in c["code"] for c in logged)


def test_a_replay_stops_at_the_cap_and_says_when_it_was_reached(tmp_path: Path) -> None:
    frames = session("terminal heavy", 120)
    done = replay(frames, TERMINAL, tmp_path, 64 * 1024)
    assert done.capped_at_s is not None and done.frames < len(frames)
    assert done.capped_at_s == frames[done.frames - 1].at  # the frame the cap refused
    lines, size = recorded(tmp_path)
    assert size < 64 * 1024 + 200  # the cap and its marker
    assert lines == 1 + (done.frames - 1) + 1  # the header, the frames kept, the marker


def test_overhead_scales_a_few_minutes_to_an_hour_and_finds_the_caps_minute() -> None:
    seconds = 120.0
    found = overhead("terminal heavy", 1, 256 * 1024, seconds=seconds)
    assert found.frames == len(session("terminal heavy", seconds)) * HOUR_S / seconds
    assert found.cpu_s > 0 and found.peak_kib > 0
    assert found.capped_after_min is not None
    minutes_per_mib = 60 / found.mib  # the heavy profile writes at a steady rate
    assert found.capped_after_min == pytest.approx(minutes_per_mib / 4, rel=0.2)
