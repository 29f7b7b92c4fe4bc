"""The documents compared: a run's, from its submitted workspace archive, and the starter's,
from the variant's workspace folders (``Material.workspace``, in overlay order)."""

from __future__ import annotations

import logging
import tarfile
from collections.abc import Sequence
from pathlib import Path, PurePosixPath

from prodproven.runner.errors import ProdprovenError
from prodproven.runner.similarity.fingerprint import (
    MAX_FILE_BYTES,
    Document,
    compared,
    document,
)

log = logging.getLogger(__name__)


def _relative(name: str) -> str:
    return PurePosixPath(name).as_posix().removeprefix("./").lstrip("/")


def of_archive(archive: Path) -> list[Document]:
    """The compared files of a workspace archive, sorted by path (an unreadable notebook is
    logged and left out). Raises OSError, tarfile.TarError for an unreadable archive."""
    found: list[Document] = []
    with tarfile.open(archive) as tar:
        for member in tar.getmembers():
            path = _relative(member.name)
            if not member.isfile() or member.size > MAX_FILE_BYTES or not compared(path):
                continue
            handle = tar.extractfile(member)
            assert handle is not None
            _add(found, path, handle.read())
    return sorted(found, key=lambda d: d.path)


def of_folders(roots: Sequence[Path]) -> list[Document]:
    """The compared files of ``roots`` overlaid in order (a later root's file replaces an
    earlier one's), sorted by path."""
    files: dict[str, Path] = {}
    for root in roots:
        for path in sorted(root.rglob("*")):
            rel = path.relative_to(root).as_posix()
            if path.is_file() and compared(rel) and path.stat().st_size <= MAX_FILE_BYTES:
                files[rel] = path
    found: list[Document] = []
    for rel, path in sorted(files.items()):
        _add(found, rel, path.read_bytes())
    return found


def _add(found: list[Document], path: str, data: bytes) -> None:
    try:
        found.append(document(path, data))
    except ProdprovenError as exc:
        log.info("left out of the similarity check: %s", exc)
