"""Archives of a run's files, written so that a crash never leaves a half archive under the
final name: ``.partial`` first, fsync'd (by the sandbox), checksummed, then renamed."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from sandbox.environment import Sandbox


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
