"""Small helpers to build tar archives in memory for copying into containers."""

from __future__ import annotations

import io
import tarfile
import time
from collections.abc import Mapping
from pathlib import Path

from prodproven.sandbox.environment import CANDIDATE_UID


def files(entries: Mapping[str, bytes], *, owner: int) -> bytes:
    """A tar archive of in-memory files keyed by relative path; a key ending in "/" is an
    empty folder. Parent folders are created, all owned by ``owner``."""
    buf = io.BytesIO()
    folders = {str(Path(n).parent) for n in entries} | {
        n.rstrip("/") for n in entries if n.endswith("/")
    }
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for folder in sorted(f for f in folders if f not in (".", "")):
            info = tarfile.TarInfo(folder)
            info.type, info.mode, info.uid, info.gid = tarfile.DIRTYPE, 0o755, owner, owner
            tar.addfile(info)
        for name, data in entries.items():
            if not name.endswith("/"):
                info = tarfile.TarInfo(name)
                info.size, info.mode, info.uid, info.gid = len(data), 0o644, owner, owner
                info.mtime = int(time.time())
                tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def directories(
    *sources: Path, owner: int = CANDIDATE_UID, prefix: str = "", mtime: int | None = None
) -> bytes:
    """One tar archive overlaying several folders in order (later files win), optionally
    below ``prefix``, with the files' own modification times unless ``mtime`` is given.
    Missing folders are skipped."""
    buf = io.BytesIO()
    seen: dict[str, tarfile.TarInfo] = {}
    payload: dict[str, Path] = {}
    if prefix:
        info = tarfile.TarInfo(prefix)
        info.type, info.mode, info.uid, info.gid = tarfile.DIRTYPE, 0o755, owner, owner
        seen[prefix] = info
    for src in sources:
        if not src.is_dir():
            continue
        for path in sorted(src.rglob("*")):
            if "__pycache__" in path.parts:
                continue
            rel = "/".join(p for p in (prefix, path.relative_to(src).as_posix()) if p)
            info = tarfile.TarInfo(rel)
            if path.is_symlink():
                info.type, info.linkname = tarfile.SYMTYPE, str(path.readlink())
            elif path.is_dir():
                info.type, info.mode = tarfile.DIRTYPE, 0o755
            else:
                info.size = path.stat().st_size
                info.mode = 0o755 if path.stat().st_mode & 0o111 else 0o644
                payload[rel] = path
            info.uid = info.gid = owner
            info.mtime = int(path.lstat().st_mtime) if mtime is None else mtime
            seen[rel] = info
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for rel in sorted(seen):
            info = seen[rel]
            if rel in payload:
                with payload[rel].open("rb") as fh:
                    tar.addfile(info, fh)
            else:
                tar.addfile(info)
    return buf.getvalue()


def read_member(archive: bytes, name: str) -> bytes:
    """The content of regular file ``name`` inside an in-memory tar archive."""
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        member = tar.getmember(name)
        fh = tar.extractfile(member)
        if fh is None:
            raise KeyError(f"{name} is not a regular file in the archive")
        return fh.read()
