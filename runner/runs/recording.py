"""Recordings of how a candidate worked, written on the host into the run's data directory
(``<data>/runs/<id>/recordings/``, never mounted into the pod), from outside the candidate's
control:

- each terminal (a JupyterLab terminal through the web app's lab proxy or the relay of
  ``prodproven lab``, or ``prodproven shell``) as an asciicast v2 file
  ``terminal-NAME-N.cast``: a header line, then one ``[t, code, data]`` line per event
  (``o`` output, ``i`` input, ``r`` resize ``COLSxROWS``, ``m`` marker), ``t`` in seconds
  since the header's ``timestamp`` (a whole second);
- each notebook cell execution in ``cells.jsonl``: one line when the browser sends an
  ``execute_request`` and one when the kernel's ``execute_reply`` comes back,
  ``{t, kernel, msg_id, code, status}``, ``t`` in Unix seconds.

Every line is written (unbuffered) as it happens. A run's recordings share one cap
(:class:`Budget`); at the cap each open file gets a last marker saying so, nothing more is
written for the run and ``on_capped`` is called once (the caller records ``recording.capped``);
what is recorded keeps working. Frames that cannot be read are skipped, never raised.
"""

from __future__ import annotations

import codecs
import json
import logging
import os
import pty
import re
import select
import signal
import subprocess
import tarfile
import termios
import threading
import time
import tty
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Literal

from prodproven.runner.runs.archives import sha256_of

RECORDINGS = "recordings"
"""The folder of a run's recordings, under its data directory."""
ARCHIVE = "recordings.tar"
"""The recordings as archived at submit, beside the workspace's archive."""
CELLS = "cells.jsonl"
DEFAULT_SIZE = (80, 24)
"""Columns and rows in a cast's header until the terminal says its size."""
MAX_PENDING = 1000
"""Cell executions remembered while their reply has not come back (their code is repeated
in the reply's line)."""
CAPPED = "recording stopped: the run's recordings reached their cap of {mb} MiB"
Code = Literal["o", "i", "r", "m"]

log = logging.getLogger(__name__)


def recordings_dir(run_root: Path) -> Path:
    return run_root / RECORDINGS


@dataclass
class Budget:
    """The bytes a run's recordings may still take, shared by its writers in this process
    (started from what is on disk, so another process's recordings count when it starts)."""

    cap_bytes: int
    on_capped: Callable[[], None]
    used: int = 0
    capped: bool = False
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def take(self, size: int) -> bool:
        """Whether ``size`` more bytes may be written; the first refusal caps the run and
        calls ``on_capped``."""
        with self._lock:
            if self.capped:
                return False
            if self.used + size <= self.cap_bytes:
                self.used += size
                return True
            self.capped = True
        try:
            self.on_capped()
        except Exception:  # the recording must never break what it records
            log.exception("recording the cap of a run's recordings failed")
        return False


_budgets: dict[Path, Budget] = {}
_budgets_lock = threading.Lock()


def budget(directory: Path, cap_bytes: int, on_capped: Callable[[], None]) -> Budget:
    """This process's budget of the recordings in ``directory`` (made on first use)."""
    with _budgets_lock:
        found = _budgets.get(directory)
        if found is None or found.cap_bytes != cap_bytes:
            on_disk = sum(p.stat().st_size for p in directory.glob("*") if p.is_file())
            found = Budget(cap_bytes, on_capped, used=on_disk, capped=on_disk >= cap_bytes)
            _budgets[directory] = found
        return found


class _Lines:
    """An append-only file of lines within a budget; a failure to write ends it, logged."""

    def __init__(self, handle: BinaryIO, budget: Budget) -> None:
        self._handle: BinaryIO | None = handle
        self.budget = budget

    @property
    def open(self) -> bool:
        return self._handle is not None

    def write(self, line: str, *, forced: bool = False) -> bool:
        """Write ``line``; False (and closed, with a last marker from the caller) when the
        budget refuses it. ``forced`` writes past the budget (the last marker)."""
        if self._handle is None:
            return False
        data = (line + "\n").encode()
        if not forced and not self.budget.take(len(data)):
            return False
        try:
            self._handle.write(data)
        except OSError as exc:
            log.warning("recording %s stopped: %s", self._handle.name, exc)
            self.close()
        return True

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None


class Cast:
    """An asciicast v2 recording being written."""

    def __init__(
        self,
        lines: _Lines,
        path: Path,
        title: str,
        size: tuple[int, int] = DEFAULT_SIZE,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._lines = lines
        self.path = path
        self._clock = clock
        # The header's timestamp is a whole second (asciicast v2); events count from that
        # second, so each event's wall time is exact and two recordings order correctly.
        wall = time.time()
        self._start = clock() - (wall - int(wall))
        header = {
            "version": 2,
            "width": size[0],
            "height": size[1],
            "timestamp": int(wall),
            "env": {"TERM": "xterm-256color", "SHELL": "/bin/bash"},
            "title": title,
        }
        self._write(json.dumps(header))

    def output(self, data: str) -> None:
        self._event("o", data)

    def input(self, data: str) -> None:
        self._event("i", data)

    def resize(self, cols: int, rows: int) -> None:
        self._event("r", f"{cols}x{rows}")

    def marker(self, label: str) -> None:
        self._event("m", label)

    def close(self) -> None:
        self._lines.close()

    def _event(self, code: Code, data: str) -> None:
        if data:
            self._write(json.dumps([round(self._clock() - self._start, 6), code, data]))

    def _write(self, line: str) -> None:
        if self._lines.open and not self._lines.write(line):
            mb = self._lines.budget.cap_bytes / (1 << 20)
            at = round(self._clock() - self._start, 6)
            self._lines.write(json.dumps([at, "m", CAPPED.format(mb=f"{mb:g}")]), forced=True)
            self._lines.close()


class CellLog:
    """The run's ``cells.jsonl``, as one kernel connection appends to it."""

    def __init__(self, lines: _Lines, kernel: str) -> None:
        self._lines = lines
        self.kernel = kernel
        self._pending: dict[str, str] = {}

    def started(self, msg_id: str, code: str) -> None:
        if len(self._pending) >= MAX_PENDING:
            self._pending.clear()
        self._pending[msg_id] = code
        self._line(msg_id, code, "started")

    def finished(self, msg_id: str, status: str) -> None:
        self._line(msg_id, self._pending.pop(msg_id, None), status)

    def close(self) -> None:
        self._lines.close()

    def _line(self, msg_id: str, code: str | None, status: str) -> None:
        line = {"t": time.time(), "kernel": self.kernel, "msg_id": msg_id, "code": code}
        self._lines.write(json.dumps({**line, "status": status}))


@dataclass(frozen=True)
class Recordings:
    """Where a run's recordings go and their cap; ``on_capped`` records ``recording.capped``."""

    directory: Path
    cap_bytes: int
    on_capped: Callable[[], None]
    clock: Callable[[], float] = time.monotonic
    """The casts' clock, their events' ``t`` (a benchmark replays an hour on its own)."""

    @classmethod
    def of_run(
        cls, run_root: Path, cap_mb: int, event: Callable[[str, dict[str, Any]], None]
    ) -> Recordings:
        """The recordings of the run whose files are under ``run_root``, capped at ``cap_mb``
        MiB; ``event(kind, data)`` records the run's ``recording.capped``."""
        cap_bytes = cap_mb << 20
        return cls(
            recordings_dir(run_root),
            cap_bytes,
            lambda: event("recording.capped", {"cap_bytes": cap_bytes}),
        )

    def _budget(self) -> Budget | None:
        """The run's budget; None once the run is capped (nothing more is opened)."""
        self.directory.mkdir(parents=True, exist_ok=True)
        found = budget(self.directory, self.cap_bytes, self.on_capped)
        return None if found.capped else found

    def terminal(self, name: str, title: str) -> Cast | None:
        """A new cast ``terminal-NAME-N.cast`` (the first N not taken); None at the cap."""
        found = self._budget()
        if found is None:
            return None
        safe = re.sub(r"[^A-Za-z0-9_.-]", "_", name)[:64] or "_"
        for n in range(1, 100_000):
            path = self.directory / f"terminal-{safe}-{n}.cast"
            try:
                handle = path.open("xb", buffering=0)
            except FileExistsError:
                continue
            return Cast(_Lines(handle, found), path, title, clock=self.clock)
        return None

    def cells(self, kernel: str) -> CellLog | None:
        found = self._budget()
        if found is None:
            return None
        return CellLog(_Lines((self.directory / CELLS).open("ab", buffering=0), found), kernel)


# the lab's WebSockets --------------------------------------------------------------------------
TERMINAL_PATH = re.compile(r"terminals/websocket/([^/?]+)")
KERNEL_PATH = re.compile(r"api/kernels/([^/?]+)/channels")


class TerminalFrames:
    """Reads terminado's frames (``["stdin", data]``, ``["set_size", rows, cols, ...]`` from
    the browser, ``["stdout", data]`` from the lab) into a cast."""

    def __init__(self, cast: Cast) -> None:
        self.cast = cast

    def frame(self, from_browser: bool, data: str | bytes) -> None:
        message = _json(data)
        if not isinstance(message, list) or len(message) < 2:
            return
        kind = message[0]
        if from_browser and kind == "stdin" and isinstance(message[1], str):
            self.cast.input(message[1])
        elif from_browser and kind == "set_size" and len(message) >= 3:
            rows, cols = message[1], message[2]
            if isinstance(rows, int) and isinstance(cols, int):
                self.cast.resize(cols, rows)
        elif not from_browser and kind == "stdout" and isinstance(message[1], str):
            self.cast.output(message[1])

    def close(self) -> None:
        self.cast.close()


class KernelFrames:
    """Reads a kernel channel's ``execute_request`` (from the browser) and ``execute_reply``
    (from the lab) into the cell log: text frames of the legacy protocol (one JSON message)
    and binary frames of ``v1.kernel.websocket.jupyter.org`` (offsets, channel, header,
    parent header, metadata, content, buffers)."""

    def __init__(self, cells: CellLog) -> None:
        self.cells = cells

    def frame(self, from_browser: bool, data: str | bytes) -> None:
        wanted = "execute_request" if from_browser else "execute_reply"
        if wanted.encode() not in (data.encode() if isinstance(data, str) else data):
            return  # most frames (outputs, status) are neither: not parsed at all
        message = _kernel_message(data)
        if message is None:
            return
        header, parent, content = message
        if header.get("msg_type") != wanted:
            return
        if from_browser and isinstance(msg_id := header.get("msg_id"), str):
            code = content.get("code")
            self.cells.started(msg_id, code if isinstance(code, str) else "")
        elif not from_browser and isinstance(msg_id := parent.get("msg_id"), str):
            status = content.get("status")
            self.cells.finished(msg_id, status if isinstance(status, str) else "unknown")

    def close(self) -> None:
        self.cells.close()


def lab_observer(recordings: Recordings, lab_path: str) -> TerminalFrames | KernelFrames | None:
    """What records the lab WebSocket at ``lab_path`` (its path under the lab's base URL): a
    terminal's or a kernel channel's frames; None for another WebSocket or at the cap."""
    if match := TERMINAL_PATH.fullmatch(lab_path):
        cast = recordings.terminal(match[1], f"JupyterLab terminal {match[1]}")
        return TerminalFrames(cast) if cast is not None else None
    if match := KERNEL_PATH.fullmatch(lab_path):
        cells = recordings.cells(match[1])
        return KernelFrames(cells) if cells is not None else None
    return None


def _json(data: str | bytes) -> Any:
    try:
        return json.loads(data)
    except (ValueError, TypeError):
        return None


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _kernel_message(data: str | bytes) -> tuple[dict[str, Any], ...] | None:
    """Header, parent header and content of a kernel frame; None when it cannot be read."""
    if isinstance(data, str):
        message = _dict(_json(data))
        parts = [message.get("header"), message.get("parent_header"), message.get("content")]
        return tuple(_dict(p) for p in parts) if message else None
    if len(data) < 16:
        return None
    count = int.from_bytes(data[:8], "little")
    if not 6 <= count <= 64 or len(data) < 8 * (count + 1):
        return None
    offsets = [int.from_bytes(data[8 * i : 8 * i + 8], "little") for i in range(1, count + 1)]
    if offsets != sorted(offsets) or offsets[-1] > len(data):
        return None
    pieces = [data[offsets[i] : offsets[i + 1]] for i in range(1, 5)]
    header, parent, _, content = (_dict(_json(p)) for p in pieces)
    return header, parent, content


# prodproven shell ------------------------------------------------------------------------------
def relay_pty(
    argv: Sequence[str],
    cast: Cast | None,
    *,
    timeout_s: float,
    stdin: int = 0,
    stdout: int = 1,
) -> int:
    """Run ``argv`` on a new pseudo-terminal relayed to ``stdin``/``stdout`` (put in raw mode
    when a terminal, its size passed on and followed), recording both ways into ``cast``;
    returns the exit code. Raises subprocess.TimeoutExpired after ``timeout_s`` (the command
    killed), OSError when it cannot start."""
    master, slave = pty.openpty()
    terminal = os.isatty(stdin)

    def follow_size(*_: object) -> None:
        if terminal:
            size = termios.tcgetwinsize(stdin)
            termios.tcsetwinsize(master, size)
            if cast is not None:
                cast.resize(size[1], size[0])

    follow_size()
    process = subprocess.Popen(
        list(argv), stdin=slave, stdout=slave, stderr=slave, start_new_session=True
    )
    os.close(slave)
    saved = termios.tcgetattr(stdin) if terminal else None
    previous = signal.signal(signal.SIGWINCH, follow_size) if terminal else None
    try:
        if terminal:
            tty.setraw(stdin)
        _pump(master, stdin, stdout, cast, time.monotonic() + timeout_s)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        raise subprocess.TimeoutExpired(list(argv), timeout_s) from None
    finally:
        if saved is not None:
            termios.tcsetattr(stdin, termios.TCSAFLUSH, saved)
            signal.signal(signal.SIGWINCH, previous)
        os.close(master)
        if cast is not None:
            cast.close()
    return process.wait()


def _pump(master: int, stdin: int, stdout: int, cast: Cast | None, deadline: float) -> None:
    """Copy both ways until the command's side closes. Raises TimeoutExpired at
    ``deadline``."""
    outgoing = codecs.getincrementaldecoder("utf-8")(errors="replace")
    incoming = codecs.getincrementaldecoder("utf-8")(errors="replace")
    sources = [master, stdin]
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise subprocess.TimeoutExpired("", 0)
        try:
            ready, _, _ = select.select(sources, [], [], left)
        except InterruptedError:
            continue
        if master in ready:
            try:
                data = os.read(master, 65536)
            except OSError:
                data = b""  # EIO: the command closed its terminal
            if not data:
                return
            os.write(stdout, data)
            if cast is not None:
                cast.output(outgoing.decode(data))
        if stdin in ready:
            data = os.read(stdin, 65536)
            if not data:
                sources.remove(stdin)
                continue
            os.write(master, data)
            if cast is not None:
                cast.input(incoming.decode(data))


# at submit -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Archived:
    bytes: int
    sha256: str
    files: int


def archive(run_root: Path) -> Archived | None:
    """Archive the run's recordings as ``recordings.tar`` beside them (fsync'd, written to a
    ``.partial`` name and renamed); None when nothing was recorded. Raises OSError."""
    directory = recordings_dir(run_root)
    files = sorted(p for p in directory.glob("*") if p.is_file()) if directory.is_dir() else []
    if not files:
        return None
    final = run_root / ARCHIVE
    partial = final.with_suffix(".partial")
    try:
        with partial.open("wb") as raw:
            with tarfile.open(fileobj=raw, mode="w") as tar:
                for path in files:
                    tar.add(path, arcname=path.name)
            raw.flush()
            os.fsync(raw.fileno())
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    digest = sha256_of(partial)
    size = partial.stat().st_size
    os.replace(partial, final)
    return Archived(size, digest, len(files))
