"""Archives of a run's files, written so that a crash never leaves a half archive under the
final name: ``.partial`` first, fsync'd (by the sandbox), checksummed, then renamed."""

from __future__ import annotations

import hashlib
import os
import tarfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from prodproven.runner.errors import ProdprovenError
from prodproven.sandbox.environment import Sandbox


@dataclass(frozen=True)
class Entry:
    """One file of an archive, by its path relative to the archived folder."""

    path: str
    size: int


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def write_archive(box: Sandbox, inner: str, final: Path, *, max_bytes: int) -> tuple[int, str]:
    """Archive the folder ``inner`` of ``box`` as the tar ``final``; returns (bytes, sha256).

    Raises ContainerError when the folder is missing or larger than ``max_bytes``.
    """
    partial = final.with_suffix(".partial")
    size = box.get_archive(f"{inner.rstrip('/')}/.", str(partial), max_bytes=max_bytes)
    digest = sha256_of(partial)
    os.replace(partial, final)
    return size, digest


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
