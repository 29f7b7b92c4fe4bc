"""Archives of a run's files, written so that a crash never leaves a half archive under the
final name: ``.partial`` first, fsync'd, checksummed, then renamed.

The tar streams out of the container as it comes (100,000 small files take seconds). When it
passes the archive cap it is streamed again, member by member (slower): a member that would
take the archive past the cap is left out and named in :attr:`Written.left_out`, so the rest
is still graded; where leaving out is not allowed, the archive is refused. A data directory
that fills up while writing raises :class:`DataDirFull` and leaves no partial file behind.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import io
import os
import shutil
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from prodproven.runner.errors import ProdprovenError
from prodproven.sandbox.environment import Sandbox
from prodproven.sandbox.errors import ContainerError

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

MIB = 2**20
HEADER_RESERVE = 3 * tarfile.BLOCKSIZE
"""Room kept for a member's headers (a pax header for a long name and its own)."""


class DataDirFull(ProdprovenError):
    """The data directory's disk filled up while an archive was written; nothing half-written
    is kept and the run keeps its status, so the write can be tried again."""


@dataclass(frozen=True)
class Entry:
    """One file of an archive, by its path relative to the archived folder."""

    path: str
    size: int


@dataclass(frozen=True)
class Written:
    """An archive written under its final name."""

    size: int
    sha256: str
    left_out: list[Entry] = field(default_factory=list)
    """Files left out because they would have taken the archive past its cap."""


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


class Chunks(io.RawIOBase):
    """A readable file over an iterator of byte chunks (the container's tar stream)."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self._view = memoryview(b"")

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: WriteableBuffer) -> int:
        target = memoryview(buffer).cast("B")
        while not self._view:
            chunk = next(self._chunks, None)
            if chunk is None:
                return 0
            self._view = memoryview(chunk)
        n = min(len(target), len(self._view))
        target[:n] = self._view[:n]
        self._view = self._view[n:]
        return n


def write_archive(
    box: Sandbox, inner: str, final: Path, *, max_bytes: int, leave_out: bool = False
) -> Written:
    """Archive the folder ``inner`` of ``box`` as the tar ``final``, at most ``max_bytes``.

    A file that would take the archive past ``max_bytes`` is left out when ``leave_out``,
    otherwise it refuses the archive with ContainerError. Raises ContainerError when the folder
    is missing and DataDirFull when the disk fills up; neither leaves a file behind.
    """
    partial = final.with_suffix(".partial")
    path = f"{inner.rstrip('/')}/."
    try:
        left_out: list[Entry] = []
        if not _copy_whole(box, path, partial, max_bytes=max_bytes):
            if not leave_out:
                raise ContainerError(
                    f"{box.name}:{inner} is larger than the limit of {max_bytes} bytes"
                )
            left_out = _copy_within(box, path, partial, max_bytes=max_bytes)
    except OSError as exc:
        written = partial.stat().st_size if partial.exists() else 0
        partial.unlink(missing_ok=True)
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            raise DataDirFull(_full(final, written, max_bytes)) from exc
        raise
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    digest = sha256_of(partial)
    size = partial.stat().st_size
    os.replace(partial, final)
    return Written(size, digest, left_out)


def _copy_whole(box: Sandbox, path: str, partial: Path, *, max_bytes: int) -> bool:
    """Copy the container's tar stream of ``path`` as it comes into ``partial`` (fsync'd);
    False, with ``partial`` removed, when it passes ``max_bytes``."""
    size = 0
    with partial.open("wb") as fh, contextlib.closing(box.archive_chunks(path)) as chunks:
        for chunk in chunks:
            size += len(chunk)
            if size > max_bytes:
                break
            fh.write(chunk)
        else:
            fh.flush()
            os.fsync(fh.fileno())
            return True
    partial.unlink()
    return False


def _copy_within(box: Sandbox, path: str, partial: Path, *, max_bytes: int) -> list[Entry]:
    """Copy the container's tar stream of ``path`` into ``partial`` member by member, leaving
    out each file that would take it past ``max_bytes``; returns the files left out."""
    left_out: list[Entry] = []
    budget = max_bytes - tarfile.RECORDSIZE  # the end-of-archive blocks and their padding
    with contextlib.closing(box.archive_chunks(path)) as chunks, partial.open("wb") as fh:
        source = io.BufferedReader(Chunks(chunks), MIB)
        with (
            tarfile.open(fileobj=source, mode="r|") as tar,
            tarfile.open(fileobj=fh, mode="w", format=tarfile.PAX_FORMAT) as out,
        ):
            for member in tar:
                padded = -(-member.size // tarfile.BLOCKSIZE) * tarfile.BLOCKSIZE
                if fh.tell() + HEADER_RESERVE + padded <= budget:
                    out.addfile(member, tar.extractfile(member) if member.isfile() else None)
                elif member.isfile():
                    left_out.append(Entry(_relative(member.name), member.size))
        fh.flush()
        os.fsync(fh.fileno())
    return left_out


def _full(final: Path, written: int, max_bytes: int) -> str:
    free = shutil.disk_usage(final.parent).free
    return (
        f"no space left in the data directory: writing {final} stopped after "
        f"{written / MIB:.1f} MiB with {free / MIB:.1f} MiB free; the archive needs up to "
        f"{max_bytes / MIB:.0f} MiB (the archive cap). Free space on that disk, then run the "
        "same command again (the run keeps its status)"
    )


def left_out_message(left_out: list[Entry], max_bytes: int) -> str:
    """One line naming the files left out of an archive and the cap."""
    shown = ", ".join(f"{e.path} ({e.size / MIB:.1f} MiB)" for e in left_out[:10])
    more = f" and {len(left_out) - 10} more" if len(left_out) > 10 else ""
    return (
        f"left out of the workspace archive, which would have passed the archive cap of "
        f"{max_bytes / MIB:.0f} MiB (PRODPROVEN_MAX_ARCHIVE_MB): {shown}{more}; the run is "
        "graded without them"
    )


def _relative(name: str) -> str:
    return PurePosixPath(name).as_posix().removeprefix("./").lstrip("/")


def entries(archive: Path) -> list[Entry]:
    """The regular files of a workspace archive, sorted by path."""
    with tarfile.open(archive) as tar:
        found = [Entry(_relative(m.name), m.size) for m in tar.getmembers() if m.isfile()]
    return sorted(found, key=lambda e: e.path)


def read_member(archive: Path, path: str, *, max_bytes: int) -> bytes:
    """The content of the file ``path`` in the archive. Raises ProdprovenError when it is not
    a regular file of the archive or is larger than ``max_bytes``."""
    with tarfile.open(archive) as tar:
        for member in tar.getmembers():
            if member.isfile() and _relative(member.name) == path:
                if member.size > max_bytes:
                    raise ProdprovenError(
                        f"{path} is {member.size} bytes; only files up to {max_bytes} are shown"
                    )
                handle = tar.extractfile(member)
                assert handle is not None
                return handle.read()
    raise ProdprovenError(f"the archive has no file {path!r}")
