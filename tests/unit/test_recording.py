"""Recordings of a run's terminals and cell executions (runner/runs/recording.py): the
asciicast v2 format, the run's cap, reading terminado's and the kernel's frames (malformed
ones skipped), the pty relay of ``prodproven shell`` and the archive made at submit."""

from __future__ import annotations

import json
import os
import subprocess
import tarfile
import time
from pathlib import Path
from typing import Any

import pytest

from prodproven.runner.runs import recording
from prodproven.runner.runs.archives import sha256_of
from prodproven.runner.runs.recording import KernelFrames, Recordings, TerminalFrames


def recordings(run_root: Path, cap_bytes: int = 1 << 20) -> tuple[Recordings, list[str]]:
    capped: list[str] = []
    where = recording.recordings_dir(run_root)
    return Recordings(where, cap_bytes, lambda: capped.append("capped")), capped


def lines(path: Path) -> list[Any]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def v1_frame(channel: str, header: dict[str, Any], parent: dict[str, Any], content: Any) -> bytes:
    """A message of the ``v1.kernel.websocket.jupyter.org`` protocol, as jupyter_server
    serializes it."""
    parts = [json.dumps(p).encode() for p in (header, parent, {}, content)]
    offsets = [8 * (1 + 1 + len(parts) + 1)]
    offsets.append(offsets[-1] + len(channel))
    for part in parts:
        offsets.append(offsets[-1] + len(part))
    head = len(offsets).to_bytes(8, "little") + b"".join(o.to_bytes(8, "little") for o in offsets)
    return head + channel.encode() + b"".join(parts)


# the cast --------------------------------------------------------------------------------------
def test_a_terminal_is_an_asciicast_v2_file_written_as_it_goes(tmp_path: Path) -> None:
    found, _ = recordings(tmp_path)
    cast = found.terminal("1", "JupyterLab terminal 1")
    assert cast is not None
    frames = TerminalFrames(cast)
    frames.frame(True, json.dumps(["set_size", 40, 120, 600, 800]))
    frames.frame(True, json.dumps(["stdin", "echo hello\r"]))
    frames.frame(False, json.dumps(["stdout", "echo hello\r\nhello\r\n"]))
    cast.marker("incident injected")
    written = lines(tmp_path / "recordings" / "terminal-1-1.cast")  # before close: flushed
    header, *events = written
    assert header["version"] == 2 and header["title"] == "JupyterLab terminal 1"
    assert (header["width"], header["height"]) == (80, 24)
    assert isinstance(header["timestamp"], int) and header["env"]["TERM"]
    assert [e[1:] for e in events] == [
        ["r", "120x40"],
        ["i", "echo hello\r"],
        ["o", "echo hello\r\nhello\r\n"],
        ["m", "incident injected"],
    ]
    times = [e[0] for e in events]
    assert times == sorted(times) and times[0] >= 0
    frames.close()


def test_an_event_is_timed_from_the_whole_second_of_the_header(tmp_path: Path) -> None:
    """asciicast v2's timestamp is a whole second; events count from it, so the header's
    timestamp plus an event's ``t`` is the event's wall time, not up to a second early."""
    found, _ = recordings(tmp_path)
    cast = found.terminal("1", "t")
    assert cast is not None
    TerminalFrames(cast).frame(True, json.dumps(["stdin", "x"]))
    typed_at = time.time()
    header, event = lines(tmp_path / "recordings" / "terminal-1-1.cast")
    assert abs(header["timestamp"] + event[0] - typed_at) < 0.1


def test_each_connection_of_a_terminal_gets_its_own_file(tmp_path: Path) -> None:
    found, _ = recordings(tmp_path)
    first, second = found.terminal("a/b", "t"), found.terminal("a/b", "t")
    assert first is not None and second is not None
    assert [first.path.name, second.path.name] == ["terminal-a_b-1.cast", "terminal-a_b-2.cast"]


def test_at_the_cap_every_cast_ends_with_a_marker_and_the_run_records_no_more(
    tmp_path: Path,
) -> None:
    found, capped = recordings(tmp_path, cap_bytes=2000)
    one, two = found.terminal("1", "t"), found.terminal("2", "t")
    assert one is not None and two is not None
    for _ in range(40):
        one.output("x" * 50)
    two.output("after the cap")
    assert capped == ["capped"]  # once per run
    for cast in (one, two):
        last = lines(cast.path)[-1]
        assert last[1] == "m" and "reached their cap" in last[2]
    assert "after the cap" not in two.path.read_text()
    on_disk = sum(p.stat().st_size for p in found.directory.iterdir())
    assert on_disk < 2000 + 2 * 200  # the cap, and one marker per file
    assert found.terminal("3", "t") is None and found.cells("k") is None


def test_the_cap_counts_what_is_already_on_disk(tmp_path: Path) -> None:
    found, _ = recordings(tmp_path, cap_bytes=1000)
    found.directory.mkdir(parents=True)
    (found.directory / "terminal-shell-1.cast").write_bytes(b"x" * 1000)
    assert Recordings(found.directory, 1000, lambda: None).terminal("1", "t") is None


# frames ----------------------------------------------------------------------------------------
def test_malformed_terminal_frames_are_skipped(tmp_path: Path) -> None:
    found, _ = recordings(tmp_path)
    cast = found.terminal("1", "t")
    assert cast is not None
    frames = TerminalFrames(cast)
    junk: list[str | bytes] = ["not json", "{}", '["stdin"]', '["stdin", 3]', b"\xff"]
    for frame in [*junk, '["set_size", "a", 2]']:
        frames.frame(True, frame)
        frames.frame(False, frame)
    frames.frame(False, '["setup", {}]')
    assert len(lines(cast.path)) == 1  # the header only


def test_cell_executions_are_logged_from_v1_binary_frames(tmp_path: Path) -> None:
    found, _ = recordings(tmp_path)
    cells = found.cells("k-1")
    assert cells is not None
    frames = KernelFrames(cells)
    request = {"msg_id": "m1", "msg_type": "execute_request"}
    frames.frame(True, v1_frame("shell", request, {}, {"code": "1 + 1"}))
    frames.frame(False, v1_frame("iopub", {"msg_type": "status"}, {"msg_id": "m1"}, {}))
    reply = {"msg_id": "r1", "msg_type": "execute_reply"}
    frames.frame(False, v1_frame("shell", reply, {"msg_id": "m1"}, {"status": "ok"}))
    logged = lines(found.directory / "cells.jsonl")
    assert [(c["kernel"], c["msg_id"], c["code"], c["status"]) for c in logged] == [
        ("k-1", "m1", "1 + 1", "started"),
        ("k-1", "m1", "1 + 1", "ok"),
    ]
    assert logged[0]["t"] <= logged[1]["t"]


def test_cell_executions_are_logged_from_legacy_json_frames(tmp_path: Path) -> None:
    found, _ = recordings(tmp_path)
    cells = found.cells("k")
    assert cells is not None
    frames = KernelFrames(cells)
    header = {"msg_id": "m2", "msg_type": "execute_request"}
    frames.frame(True, json.dumps({"header": header, "content": {"code": "boom()"}}))
    reply = {"header": {"msg_type": "execute_reply"}, "parent_header": {"msg_id": "m2"}}
    frames.frame(False, json.dumps({**reply, "content": {"status": "error"}}))
    logged = lines(found.directory / "cells.jsonl")
    assert [(c["code"], c["status"]) for c in logged] == [
        ("boom()", "started"),
        ("boom()", "error"),
    ]


def test_malformed_kernel_frames_are_skipped(tmp_path: Path) -> None:
    found, _ = recordings(tmp_path)
    cells = found.cells("k")
    assert cells is not None
    frames = KernelFrames(cells)
    good = v1_frame("shell", {"msg_id": "m", "msg_type": "execute_request"}, {}, {"code": "x"})
    junk: list[str | bytes] = [
        b"execute_request",  # too short
        (2**63).to_bytes(8, "little") + good[8:],  # absurd count
        good[:8] + (10**9).to_bytes(8, "little") + good[16:],  # offsets out of order
        good[:-5],  # truncated
        good.replace(b'"msg_type"', b'"msg_typ\xff"'),  # a header not UTF-8
        '{"header": "execute_request"}',
        "execute_request [",
    ]
    for frame in junk:
        frames.frame(True, frame)
    assert (found.directory / "cells.jsonl").read_text() == ""


# prodproven shell ------------------------------------------------------------------------------
def test_the_shell_relay_records_output_and_input(tmp_path: Path) -> None:
    found, _ = recordings(tmp_path)
    cast = found.terminal("shell", "prodproven shell")
    read_in, write_in = os.pipe()
    read_out, write_out = os.pipe()
    os.write(write_in, b"hello\n")
    os.close(write_in)
    command = ["/bin/sh", "-c", "read line; echo got $line; exit 3"]
    try:
        code = recording.relay_pty(command, cast, timeout_s=20, stdin=read_in, stdout=write_out)
        os.close(write_out)
        shown = os.read(read_out, 65536)
    finally:
        os.close(read_in)
        os.close(read_out)
    assert code == 3
    assert b"got hello" in shown
    assert cast is not None
    events = lines(cast.path)[1:]
    assert ["i", "hello\n"] in [e[1:] for e in events]
    assert "got hello" in "".join(e[2] for e in events if e[1] == "o")


def test_the_shell_relay_stops_a_command_at_its_timeout(tmp_path: Path) -> None:
    read_in, write_in = os.pipe()
    try:
        with pytest.raises(subprocess.TimeoutExpired):
            recording.relay_pty(["/bin/sleep", "30"], None, timeout_s=0.5, stdin=read_in)
    finally:
        os.close(read_in)
        os.close(write_in)


# at submit -------------------------------------------------------------------------------------
def test_the_recordings_are_archived_with_their_checksum(tmp_path: Path) -> None:
    assert recording.archive(tmp_path) is None  # nothing recorded, no archive
    found, _ = recordings(tmp_path)
    cast = found.terminal("1", "t")
    assert cast is not None and found.cells("k") is not None
    cast.output("hi")
    archived = recording.archive(tmp_path)
    assert archived is not None and archived.files == 2
    tar_path = tmp_path / "recordings.tar"
    assert archived.sha256 == sha256_of(tar_path) and archived.bytes == tar_path.stat().st_size
    with tarfile.open(tar_path) as tar:
        assert sorted(tar.getnames()) == ["cells.jsonl", "terminal-1-1.cast"]
    assert not list(tmp_path.glob("*.partial"))
