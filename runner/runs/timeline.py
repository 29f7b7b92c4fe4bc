"""A run's workspace timeline: its files snapshotted while the run runs, content-addressed, and
the list of changes read back from it (issue 23).

Stored in the run's folder, ``<data>/runs/<id>/timeline/``:

- ``blobs/<sha256>``: each file content once, named by its sha256, so an unchanged file (or a
  file copied elsewhere) costs nothing more;
- ``snapshots.jsonl``: one line per snapshot that differs from the one before, ``{"t": ISO
  time, "files": {path: sha256}, "large": {path: bytes}}``; ``large`` names the files over
  :data:`LARGE_BYTES`, recorded by hash and size only (their content is not kept);
- ``capped``: written when a snapshot would have taken the timeline past its cap (nothing of
  that snapshot is kept, and no snapshot is taken after it);
- ``sealed``: written by :meth:`Timeline.seal` at submit, with the sha256 of
  ``snapshots.jsonl``; no snapshot is taken after it.

Only regular files count, outside the folders of :data:`SKIPPED_DIRS` (caches and ``.git``:
what the candidate wrote is in the working tree). Writers hold ``timeline/lock`` (a snapshot
from the supervisor and the one at submit may come from two processes).
"""

from __future__ import annotations

import difflib
import fcntl
import hashlib
import io
import json
import os
import tarfile
from collections.abc import Generator, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from pathlib import Path, PurePosixPath
from typing import IO, Any

from prodproven.runner.errors import ProdprovenError
from prodproven.runner.runs.archives import MIB, Chunks

LARGE_BYTES = MIB
"""Files larger than this are recorded by hash and size only."""
SKIPPED_DIRS = frozenset(
    {".git", ".ipynb_checkpoints", "__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache"}
)
"""Folders (at any depth) whose files are not snapshotted: caches, and git's own store."""
FOLDER = "timeline"
"""The timeline's folder in a run's folder."""


class Outcome(StrEnum):
    taken = "taken"
    """A snapshot was recorded."""
    unchanged = "unchanged"
    """The workspace is as at the last snapshot: nothing was recorded."""
    capped = "capped"
    """This snapshot would have taken the timeline past its cap: nothing of it was kept, and
    no snapshot will be taken after it."""
    stopped = "stopped"
    """The timeline was capped before, or sealed at submit: nothing was recorded."""


@dataclass(frozen=True)
class Snapshot:
    at: datetime
    files: dict[str, str]
    """Each file's path (relative to the workspace) and the sha256 of its content."""
    large: dict[str, int] = field(default_factory=dict)
    """The files whose content was not kept (over :data:`LARGE_BYTES`), with their size."""

    def line(self) -> str:
        return json.dumps({"t": self.at.isoformat(), "files": self.files, "large": self.large})

    @classmethod
    def of(cls, line: str) -> Snapshot:
        data = json.loads(line)
        return cls(datetime.fromisoformat(data["t"]), data["files"], data.get("large", {}))


@dataclass(frozen=True)
class Taken:
    """What one snapshot did."""

    outcome: Outcome
    files: int = 0
    new_blobs: int = 0
    new_bytes: int = 0
    """Bytes added to the timeline (new blobs and the snapshot's line)."""
    total_bytes: int = 0
    """The timeline's size after it."""


@dataclass(frozen=True)
class Seal:
    """The timeline as sealed at submit."""

    sha256: str
    """Of ``snapshots.jsonl`` (each blob is checked by its own name)."""
    snapshots: int
    blobs: int
    bytes: int


@dataclass(frozen=True)
class Change:
    """One file changed between two snapshots: ``created``, ``changed`` or ``deleted``;
    ``added`` and ``removed`` lines are None for a file whose content was not kept or is not
    text (``size`` is then its size in bytes after the change, 0 when deleted)."""

    step: int
    """The snapshot it was seen in (0: the first, compared with an empty workspace)."""
    at: datetime
    path: str
    kind: str
    added: int | None
    removed: int | None
    size: int


@dataclass(frozen=True)
class FileDiff:
    """A change and its unified diff (empty when the file is not text or was not kept)."""

    change: Change
    lines: list[str]


class Timeline:
    """The timeline in the folder ``root`` (``<run folder>/timeline``)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.blobs = root / "blobs"
        self.index = root / "snapshots.jsonl"

    # writing -------------------------------------------------------------------------------
    def snapshot(
        self, chunks: Generator[bytes, None, None], at: datetime, *, cap_bytes: int
    ) -> Taken:
        """Record the workspace read from ``chunks`` (a tar stream of its folder, as
        ``Sandbox.archive_chunks`` gives it) as the snapshot at ``at``, unless it is unchanged
        since the last one, or the timeline is sealed or capped. When it would take the
        timeline past ``cap_bytes``, nothing of it is kept and the timeline is capped. Raises
        ContainerError (from the stream) and OSError (the data directory)."""
        with self._locked():
            if self.sealed or (self.root / "capped").exists():
                return Taken(Outcome.stopped)
            used = self.size()
            files, large, new = self._read(chunks, room=cap_bytes - used)
            if new is None:
                (self.root / "capped").write_text(at.isoformat())
                return Taken(Outcome.capped, total_bytes=used)
            last = self.last()
            if last is not None and (last.files, last.large) == (files, large):
                return Taken(Outcome.unchanged, len(files), total_bytes=used)
            line = (Snapshot(at, files, large).line() + "\n").encode()
            added = sum(len(blob) for blob in new.values()) + len(line)
            if used + added > cap_bytes:
                (self.root / "capped").write_text(at.isoformat())
                return Taken(Outcome.capped, total_bytes=used)
            for digest, blob in new.items():
                partial = self.blobs / f"{digest}.partial"
                partial.write_bytes(blob)
                os.replace(partial, self.blobs / digest)
            with self.index.open("ab") as fh:
                fh.write(line)
            return Taken(Outcome.taken, len(files), len(new), added, used + added)

    def _read(
        self, chunks: Generator[bytes, None, None], *, room: int
    ) -> tuple[dict[str, str], dict[str, int], dict[str, bytes] | None]:
        """The files of the tar stream (path to sha256), the large ones (path to size) and the
        contents not stored yet (sha256 to content; None once they pass ``room`` bytes)."""
        self.blobs.mkdir(parents=True, exist_ok=True)
        files: dict[str, str] = {}
        large: dict[str, int] = {}
        new: dict[str, bytes] | None = {}
        new_bytes = 0
        with closing(chunks), tarfile.open(fileobj=_reader(chunks), mode="r|") as tar:
            for member in tar:
                path = PurePosixPath(member.name.removeprefix("./"))
                if not member.isfile() or SKIPPED_DIRS.intersection(path.parts[:-1]):
                    continue
                handle = tar.extractfile(member)
                assert handle is not None, "a regular file has content"
                digest, content = _hash(handle, keep=member.size <= LARGE_BYTES)
                files[path.as_posix()] = digest
                if content is None:
                    large[path.as_posix()] = member.size
                elif new is not None and not (self.blobs / digest).exists():
                    new[digest] = content
                    new_bytes += len(content)
                    if new_bytes > room:
                        new = None
        return files, large, new

    def seal(self) -> Seal:
        """Stop snapshotting and say what the timeline holds, with the sha256 of its index
        (for the run's events); sealing again says the same. Raises OSError."""
        with self._locked():
            content = self.index.read_bytes() if self.index.exists() else b""
            blobs = list(self.blobs.iterdir()) if self.blobs.exists() else []
            seal = Seal(
                hashlib.sha256(content).hexdigest(),
                content.count(b"\n"),
                len(blobs),
                self.size(),
            )
            (self.root / "sealed").write_text(json.dumps(seal.__dict__))
            return seal

    @property
    def sealed(self) -> bool:
        """Whether the timeline was sealed (at submit)."""
        return (self.root / "sealed").exists()

    def size(self) -> int:
        """Bytes the timeline holds (its blobs and its index)."""
        blobs = sum(p.stat().st_size for p in self.blobs.iterdir()) if self.blobs.exists() else 0
        return blobs + (self.index.stat().st_size if self.index.exists() else 0)

    @contextmanager
    def _locked(self) -> Iterator[None]:
        self.root.mkdir(parents=True, exist_ok=True)
        with (self.root / "lock").open("a") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            yield

    # reading -------------------------------------------------------------------------------
    def snapshots(self) -> list[Snapshot]:
        """Every snapshot, oldest first (none when nothing was recorded)."""
        if not self.index.exists():
            return []
        with self.index.open() as fh:
            return [Snapshot.of(line) for line in fh if line.strip()]

    def last(self) -> Snapshot | None:
        """The newest snapshot, read from the end of the index."""
        if not self.index.exists():
            return None
        with self.index.open("rb") as fh:
            end = fh.seek(0, os.SEEK_END)
            tail = b""
            while end > 0 and tail.count(b"\n") < 2:
                start = max(0, end - 65536)
                fh.seek(start)
                tail = fh.read(end - start) + tail
                end = start
        lines = tail.rstrip(b"\n").split(b"\n")
        return Snapshot.of(lines[-1].decode()) if lines[-1] else None

    def changes(self) -> list[Change]:
        """Every file change over time: for each snapshot, what differs from the one before
        (the first against an empty workspace), with lines added and removed."""
        snapshots = self.snapshots()
        return [d.change for step in range(len(snapshots)) for d in self._step(snapshots, step)]

    def diff(self, step: int) -> list[FileDiff]:
        """The changes of snapshot ``step`` (0 the first) against the one before, each with
        its unified diff, by path. Raises ProdprovenError when there is no such snapshot."""
        snapshots = self.snapshots()
        if not 0 <= step < len(snapshots):
            raise ProdprovenError(
                f"the timeline in {self.root} has no step {step}: it has {len(snapshots)} "
                "snapshots, steps 0 to the last"
            )
        return self._step(snapshots, step)

    def _step(self, snapshots: list[Snapshot], step: int) -> list[FileDiff]:
        before = snapshots[step - 1] if step else Snapshot(snapshots[0].at, {})
        after = snapshots[step]
        paths = sorted(before.files.keys() | after.files.keys())
        return [
            self._compare(step, after, path, before.files.get(path), after.files.get(path))
            for path in paths
            if before.files.get(path) != after.files.get(path)
        ]

    def _compare(
        self, step: int, after: Snapshot, path: str, old: str | None, new: str | None
    ) -> FileDiff:
        kind = "created" if old is None else "deleted" if new is None else "changed"
        old_lines = self._lines(path, old)
        new_lines = self._lines(path, new)
        size = 0 if new is None else after.large.get(path, self._blob_size(new))
        if old_lines is None or new_lines is None:
            return FileDiff(Change(step, after.at, path, kind, None, None, size), [])
        lines = list(
            difflib.unified_diff(old_lines, new_lines, f"a/{path}", f"b/{path}", lineterm="")
        )
        added = sum(1 for x in lines[2:] if x.startswith("+"))
        removed = sum(1 for x in lines[2:] if x.startswith("-"))
        return FileDiff(Change(step, after.at, path, kind, added, removed, size), lines)

    def _lines(self, path: str, digest: str | None) -> list[str] | None:
        """The file's lines (a notebook's: its cells' sources), none for a missing file, None
        when its content was not kept or is not text."""
        if digest is None:
            return []
        blob = self.blobs / digest
        if not blob.exists():
            return None
        try:
            text = blob.read_bytes().decode()
        except UnicodeDecodeError:
            return None
        if path.endswith(".ipynb"):
            return _notebook_lines(text) or text.splitlines()
        return text.splitlines()

    def _blob_size(self, digest: str) -> int:
        blob = self.blobs / digest
        return blob.stat().st_size if blob.exists() else 0


def timeline_of(run_root: Path) -> Timeline:
    """The timeline of the run whose folder is ``run_root``."""
    return Timeline(run_root / FOLDER)


def _reader(chunks: Iterator[bytes]) -> IO[bytes]:
    return io.BufferedReader(Chunks(chunks), MIB)


def _hash(handle: IO[bytes], *, keep: bool) -> tuple[str, bytes | None]:
    """The sha256 of what ``handle`` holds, and the content itself when ``keep``."""
    digest = hashlib.sha256()
    kept: list[bytes] = []
    while chunk := handle.read(MIB):
        digest.update(chunk)
        if keep:
            kept.append(chunk)
    return digest.hexdigest(), b"".join(kept) if keep else None


def _notebook_lines(text: str) -> list[str] | None:
    """A notebook's cells as lines, each cell under a ``# %% [kind]`` line (outputs and
    execution counts left out: they change at every run); None when it is not a notebook."""
    try:
        document: Any = json.loads(text)
    except ValueError:
        return None
    cells = document.get("cells") if isinstance(document, dict) else None
    if not isinstance(cells, list):
        return None
    lines: list[str] = []
    for cell in cells:
        if isinstance(cell, dict):
            source = cell.get("source", "")
            source = "".join(source) if isinstance(source, list) else str(source)
            lines += [f"# %% [{cell.get('cell_type', 'cell')}]", *source.splitlines()]
    return lines
