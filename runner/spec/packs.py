"""Challenge packs: one file that moves a challenge between installations.

A pack is a gzip'd tar holding ``manifest.json`` (format, id, version, title, and the SHA-256
and size of every file) and the challenge folder under ``challenge/``. Installing checks every
file against the manifest, loads the spec before anything is replaced, refuses an id that a
built-in or configured challenge already has, and refuses to replace a newer version without
``force``. The new folder is moved into place in one rename, so an interrupted install leaves
the old version whole.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import tarfile
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import yaml

from prodproven.runner.errors import ProdprovenError
from prodproven.runner.spec.challenge import SPEC_FILE, Catalog, Challenge, load_challenge

FORMAT = 1
MANIFEST = "manifest.json"
FOLDER = "challenge"
SKIPPED = {"__pycache__", ".git", ".ipynb_checkpoints", ".pytest_cache", ".mypy_cache"}
MAX_PACK_BYTES = 2 * 2**30


class PackError(ProdprovenError):
    """A pack cannot be written, read or installed as asked."""


@dataclass(frozen=True)
class PackInfo:
    path: Path
    id: str
    version: str
    files: int
    bytes: int
    sha256: str
    """Of the pack file itself, to compare with what the sender published."""


@dataclass(frozen=True)
class Installed:
    id: str
    version: str
    path: Path
    replaced: str | None
    """The version that was installed before, if any."""


def _files(root: Path) -> Iterator[Path]:
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root)
        if any(part in SKIPPED for part in relative.parts) or path.suffix == ".pyc":
            continue
        if path.is_symlink():
            raise PackError(f"{path} is a symbolic link; packs hold regular files only")
        if path.is_file():
            yield path


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def pack(challenge: Challenge, out: Path) -> PackInfo:
    """Write ``challenge`` as a pack at ``out``."""
    paths = {p.relative_to(challenge.root).as_posix(): p for p in _files(challenge.root)}
    entries = {name: path.read_bytes() for name, path in paths.items()}
    manifest = {
        "format": FORMAT,
        "id": challenge.id,
        "version": challenge.spec.version,
        "title": challenge.spec.title,
        "files": {
            name: {
                "sha256": _sha256(data),
                "size": len(data),
                "executable": os.access(paths[name], os.X_OK),
            }
            for name, data in entries.items()
        },
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(out.name + ".partial")
    with tarfile.open(partial, "w:gz") as tar:
        _add(tar, MANIFEST, json.dumps(manifest, indent=2, sort_keys=True).encode())
        for name, data in entries.items():
            _add(tar, f"{FOLDER}/{name}", data)
    os.replace(partial, out)
    return PackInfo(
        path=out,
        id=challenge.id,
        version=challenge.spec.version,
        files=len(entries),
        bytes=out.stat().st_size,
        sha256=_sha256(out.read_bytes()),
    )


def _add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = 0o644
    tar.addfile(info, io.BytesIO(data))


def read_manifest(pack_file: Path) -> dict[str, Any]:
    """The manifest of a pack. Raises PackError for anything that is not a pack."""
    try:
        with tarfile.open(pack_file, "r:gz") as tar:
            member = tar.extractfile(MANIFEST)
            if member is None:
                raise PackError(f"{pack_file} has no {MANIFEST}; is it a challenge pack?")
            manifest: dict[str, Any] = json.loads(member.read())
    except KeyError:
        raise PackError(f"{pack_file} has no {MANIFEST}; is it a challenge pack?") from None
    except (tarfile.TarError, OSError, json.JSONDecodeError) as exc:
        raise PackError(f"{pack_file} is not a readable challenge pack: {exc}") from None
    if manifest.get("format") != FORMAT:
        raise PackError(f"{pack_file} has pack format {manifest.get('format')!r}; this is {FORMAT}")
    return manifest


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split("."))


def install(
    pack_file: Path, into: Path, taken: dict[str, Path], catalog: Catalog, *, force: bool = False
) -> Installed:
    """Install the pack's challenge as ``into/<id>``.

    ``taken`` maps the ids of challenges found elsewhere (built-in, configured folders) to
    their folders: those ids cannot be installed. Raises PackError.
    """
    if pack_file.stat().st_size > MAX_PACK_BYTES:
        raise PackError(f"{pack_file} is larger than {MAX_PACK_BYTES // 2**30} GiB")
    manifest = read_manifest(pack_file)
    challenge_id, version = str(manifest["id"]), str(manifest["version"])
    if challenge_id in taken:
        raise PackError(
            f"challenge id {challenge_id!r} is already used by {taken[challenge_id]}; "
            "rename the challenge (its id and folder) before packing it"
        )
    target = into / challenge_id
    current = _installed_version(target)
    if current is not None and _version(current) > _version(version) and not force:
        raise PackError(
            f"{challenge_id} {current} is installed; installing the older {version} needs --force"
        )
    into.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{challenge_id}-", dir=into))
    try:
        folder = staging / challenge_id
        _extract(pack_file, manifest, folder)
        try:
            load_challenge(folder, catalog)
        except ProdprovenError as exc:
            raise PackError(f"the pack's challenge does not load: {exc}") from None
        if target.exists():
            old = staging / "replaced"
            os.replace(target, old)
        os.replace(folder, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return Installed(challenge_id, version, target, current)


def _installed_version(folder: Path) -> str | None:
    spec = folder / SPEC_FILE
    if not spec.is_file():
        return None
    raw = yaml.safe_load(spec.read_text())
    return str(raw.get("version")) if isinstance(raw, dict) else None


def _extract(pack_file: Path, manifest: dict[str, Any], folder: Path) -> None:
    """Extract the challenge's files, each checked against the manifest: no path outside the
    folder, no link, no file missing, extra or altered."""
    expected: dict[str, dict[str, Any]] = dict(manifest["files"])
    seen: set[str] = set()
    with tarfile.open(pack_file, "r:gz") as tar:
        for member in tar.getmembers():
            if member.name == MANIFEST:
                continue
            name = PurePosixPath(member.name)
            if name.parts[:1] != (FOLDER,) or ".." in name.parts or name.is_absolute():
                raise PackError(f"the pack holds {member.name!r}, outside its challenge folder")
            if not member.isfile():
                raise PackError(f"the pack holds {member.name!r}, which is not a regular file")
            relative = PurePosixPath(*name.parts[1:]).as_posix()
            handle = tar.extractfile(member)
            assert handle is not None
            data = handle.read()
            want = expected.get(relative)
            if want is None or want["sha256"] != _sha256(data):
                raise PackError(f"{relative} in the pack does not match its manifest")
            seen.add(relative)
            path = folder / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
            path.chmod(0o755 if want.get("executable") else 0o644)
    missing = sorted(set(expected) - seen)
    if missing:
        raise PackError(f"the pack lacks files its manifest lists: {', '.join(missing[:5])}")
