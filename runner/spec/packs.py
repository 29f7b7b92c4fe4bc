"""Challenge packs: one file that moves a challenge between installations.

A pack is a gzip'd tar holding ``manifest.json`` first (format, id, version, title, and the
SHA-256 and size of every file) and the challenge folder under ``challenge/``. A pack comes
from outside, so installing reads it within limits: the manifest is checked (its id matches the
one id pattern) before anything is written; the archive is read as a stream, its uncompressed
bytes counted while they are read (at most MAX_UNPACKED_BYTES in MAX_MEMBERS files), and every
member must be a regular file under ``challenge/`` that its manifest lists with that checksum.
The files go to a fresh staging folder inside the packs folder, the spec is loaded from there
(its version must be the manifest's), and only then does the new folder replace the installed
one, in one rename: an interrupted or refused install leaves the old version whole and nothing
of the new one. An id that a built-in or configured challenge already has is refused, and so is
replacing a newer version without ``force``.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import shutil
import tarfile
import tempfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO, Annotated, cast

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from prodproven.runner.errors import ProdprovenError
from prodproven.runner.spec.challenge import SPEC_FILE, Catalog, Challenge, load_challenge
from prodproven.runner.spec.model import CHALLENGE_ID, VERSION, capped, describe, version_key
from prodproven.sandbox.untrusted import UntrustedInput, confine, load_json, load_yaml, read_text

FORMAT = 1
MANIFEST = "manifest.json"
FOLDER = "challenge"
SKIPPED = {"__pycache__", ".git", ".ipynb_checkpoints", ".pytest_cache", ".mypy_cache"}
MAX_PACK_BYTES = 2 * 2**30
"""The largest pack file installed (compressed)."""
MAX_UNPACKED_BYTES = 2**30
"""The most bytes a pack's files may hold together, uncompressed; counted while reading."""
MAX_MEMBERS = 10_000
"""The most files one pack may hold."""
MAX_MANIFEST_BYTES = 4 * 2**20
_MAX_HEADER_BYTES = 64 * 2**10
"""The largest extended tar header (a long name) read."""
_OVERHEAD_BYTES = 64 * 2**20
"""Tar headers and padding on top of the files' bytes, in the stream's budget."""
_CHUNK = 2**20


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


class FileEntry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    size: int = Field(ge=0, le=MAX_UNPACKED_BYTES)
    executable: bool = False


class Manifest(BaseModel):
    """A pack's manifest.json (newer keys are ignored; the format number says what to expect)."""

    model_config = ConfigDict(frozen=True)

    format: int
    id: str = Field(pattern=CHALLENGE_ID)
    version: str = Field(pattern=VERSION)
    title: str = Field("", max_length=200)
    files: dict[Annotated[str, Field(min_length=1, max_length=1024)], FileEntry] = Field(
        max_length=MAX_MEMBERS
    )


def _files(root: Path) -> Iterator[Path]:
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root)
        if any(part in SKIPPED for part in relative.parts) or path.suffix == ".pyc":
            continue
        if path.is_symlink():
            raise PackError(f"{path} is a symbolic link; packs hold regular files only")
        if path.is_file():
            yield path


def _file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def pack(challenge: Challenge, out: Path) -> PackInfo:
    """Write ``challenge`` as a pack at ``out``: to a temporary file beside it, renamed when
    complete, so that an interrupted pack (Ctrl-C included) leaves nothing behind."""
    try:
        paths = {p.relative_to(challenge.root).as_posix(): p for p in _files(challenge.root)}
        sizes = {name: path.stat().st_size for name, path in paths.items()}
        if sum(sizes.values()) > MAX_UNPACKED_BYTES or len(paths) > MAX_MEMBERS:
            raise PackError(
                f"{challenge.root} holds {len(paths)} files, {sum(sizes.values())} bytes; a pack "
                f"holds at most {MAX_MEMBERS} files, {MAX_UNPACKED_BYTES} bytes"
            )
        manifest = {
            "format": FORMAT,
            "id": challenge.id,
            "version": challenge.spec.version,
            "title": challenge.spec.title,
            "files": {
                name: {
                    "sha256": _file_digest(path),
                    "size": sizes[name],
                    "executable": os.access(path, os.X_OK),
                }
                for name, path in paths.items()
            },
        }
        out.parent.mkdir(parents=True, exist_ok=True)
        handle, partial = tempfile.mkstemp(
            dir=out.parent, prefix=f".{out.name}.", suffix=".partial"
        )
        try:
            with os.fdopen(handle, "wb") as fh, tarfile.open(fileobj=fh, mode="w:gz") as tar:
                _add(tar, MANIFEST, io.BytesIO(json.dumps(manifest, indent=2).encode()))
                for name, path in paths.items():
                    with path.open("rb") as source:
                        _add(tar, f"{FOLDER}/{name}", source)
            os.replace(partial, out)
        finally:
            Path(partial).unlink(missing_ok=True)
        return PackInfo(
            path=out,
            id=challenge.id,
            version=challenge.spec.version,
            files=len(paths),
            bytes=out.stat().st_size,
            sha256=_file_digest(out),
        )
    except OSError as exc:
        raise PackError(f"cannot write the pack {out}: {exc.strerror or exc}") from None


def _add(tar: tarfile.TarFile, name: str, data: IO[bytes]) -> None:
    info = tarfile.TarInfo(name)
    info.size = data.seek(0, io.SEEK_END)
    data.seek(0)
    info.mode = 0o644
    tar.addfile(info, data)


class _Budget:
    """A readable stream that refuses to yield more than ``budget`` bytes of ``source`` (the
    decompressed pack) and reports a damaged one as a PackError."""

    def __init__(self, pack_file: Path, source: gzip.GzipFile, budget: int) -> None:
        self._pack_file, self._source, self._left = pack_file, source, budget

    def read(self, size: int = -1) -> bytes:
        try:
            data = self._source.read(size if size >= 0 else _CHUNK)
        except (OSError, EOFError, zlib.error) as exc:
            raise _unreadable(self._pack_file, exc) from None
        self._left -= len(data)
        if self._left < 0:
            raise PackError(
                f"{self._pack_file} unpacks to more than {MAX_UNPACKED_BYTES} bytes; refused "
                "while reading"
            )
        return data


class _HeaderLimit(tarfile.TarInfo):
    """A tar member whose extended header (a long name, pax data) is read only when small."""

    @classmethod
    def frombuf(cls, buf: bytes | bytearray, encoding: str, errors: str) -> _HeaderLimit:
        info = super().frombuf(buf, encoding, errors)
        meta = (
            tarfile.XHDTYPE,
            tarfile.XGLTYPE,
            tarfile.GNUTYPE_LONGNAME,
            tarfile.GNUTYPE_LONGLINK,
        )
        if info.type in (*meta, tarfile.SOLARIS_XHDTYPE) and info.size > _MAX_HEADER_BYTES:
            raise PackError(f"the pack has a tar header of {info.size} bytes; refused")
        return info


@contextmanager
def _reading(pack_file: Path) -> Iterator[tarfile.TarFile]:
    """The pack as a stream of tar members, its uncompressed bytes counted as they are read;
    a file that is not a gzip'd tar is a PackError."""
    budget = MAX_UNPACKED_BYTES + MAX_MANIFEST_BYTES + _OVERHEAD_BYTES
    try:
        raw = pack_file.open("rb")
    except OSError as exc:
        raise _unreadable(pack_file, exc) from None
    try:
        with raw, gzip.GzipFile(fileobj=raw, mode="rb") as unzipped:
            stream = cast(IO[bytes], _Budget(pack_file, unzipped, budget))
            with tarfile.open(fileobj=stream, mode="r|", tarinfo=_HeaderLimit) as tar:
                yield tar
    except tarfile.TarError as exc:  # only tarfile raises these: the pack's format
        raise _unreadable(pack_file, exc) from None


def _unreadable(pack_file: Path, exc: BaseException) -> PackError:
    reason = getattr(exc, "strerror", None) or type(exc).__name__
    return PackError(f"{pack_file} is not a readable challenge pack ({reason})")


def read_manifest(pack_file: Path) -> Manifest:
    """The manifest of a pack (its first member). Raises PackError for anything that is not a
    pack or whose manifest is malformed (the message names the field, never quotes the file)."""
    with _reading(pack_file) as tar:
        first = tar.next()
        if first is None or first.name != MANIFEST or not first.isfile():
            raise PackError(f"{pack_file} does not start with {MANIFEST}; is it a challenge pack?")
        if first.size > MAX_MANIFEST_BYTES:
            raise PackError(f"{pack_file}: {MANIFEST} is over {MAX_MANIFEST_BYTES} bytes")
        handle = tar.extractfile(first)
        assert handle is not None
        data = handle.read()
    what = f"{pack_file}: {MANIFEST}"
    try:
        raw = load_json(data, what=what, max_bytes=MAX_MANIFEST_BYTES, max_depth=8)
    except UntrustedInput as exc:
        raise PackError(str(exc)) from None
    if not isinstance(raw, dict):
        raise PackError(f"{what} is not a JSON object")
    if raw.get("format") != FORMAT:
        raise PackError(f"{pack_file} has a pack format other than {FORMAT}; this is {FORMAT}")
    try:
        return Manifest.model_validate(raw)
    except ValidationError as exc:
        problems = capped([describe(err) for err in exc.errors()])
        raise PackError(f"{what} is malformed: {'; '.join(problems)}") from None


def install(
    pack_file: Path, into: Path, taken: dict[str, Path], catalog: Catalog, *, force: bool = False
) -> Installed:
    """Install the pack's challenge as ``into/<id>``.

    ``taken`` maps the ids of challenges found elsewhere (built-in, configured folders) to
    their folders: those ids cannot be installed. Raises PackError; nothing of a refused pack
    stays on disk.
    """
    try:
        size = pack_file.stat().st_size
    except OSError as exc:
        raise PackError(f"cannot read {pack_file}: {exc.strerror or exc}") from None
    if size > MAX_PACK_BYTES:
        raise PackError(f"{pack_file} is larger than {MAX_PACK_BYTES // 2**30} GiB")
    manifest = read_manifest(pack_file)
    challenge_id = manifest.id
    if challenge_id in taken:
        raise PackError(
            f"challenge id {challenge_id!r} is already used by {taken[challenge_id]}; "
            "rename the challenge (its id and folder) before packing it"
        )
    try:
        target = into / confine(into, challenge_id, what="the pack's id").name
        into.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".installing-", dir=into))
    except (OSError, UntrustedInput) as exc:
        raise PackError(f"cannot install into {into}: {exc}") from None
    try:
        folder = staging / challenge_id
        _extract(pack_file, manifest, folder)
        version = _loaded(folder, catalog).spec.version
        if version != manifest.version:
            raise PackError(
                f"the pack's manifest says version {manifest.version} but its challenge.yaml "
                f"says {version}; the pack was altered after it was made"
            )
        current = _installed_version(target)
        if current is not None and _newer(current, version) and not force:
            raise PackError(
                f"{challenge_id} {current} is installed; installing the older {version} "
                "needs --force"
            )
        if target.exists() or target.is_symlink():
            os.replace(target, staging / "replaced")
        os.replace(folder, target)
    except OSError as exc:
        raise PackError(f"cannot install {pack_file} into {into}: {exc.strerror or exc}") from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return Installed(challenge_id, version, target, current)


def _loaded(folder: Path, catalog: Catalog) -> Challenge:
    try:
        return load_challenge(folder, catalog)
    except ProdprovenError as exc:
        raise PackError(f"the pack's challenge does not load: {exc}") from None


def _newer(current: str, version: str) -> bool:
    have, new = version_key(current), version_key(version)
    return have is not None and new is not None and have > new


def _installed_version(folder: Path) -> str | None:
    """The version of the challenge installed in ``folder``, if it has a readable one."""
    try:
        spec = confine(folder, SPEC_FILE, what=SPEC_FILE)
        raw = load_yaml(read_text(spec, what=SPEC_FILE), what=SPEC_FILE)
    except UntrustedInput:
        return None
    version = raw.get("version") if isinstance(raw, dict) else None
    return version if isinstance(version, str) and version_key(version) else None


def _extract(pack_file: Path, manifest: Manifest, folder: Path) -> None:
    """Extract the challenge's files, each checked against the manifest as it is read: no path
    outside the folder, no link or device, no file missing, extra, twice or altered, no more
    than the budget."""
    expected = manifest.files
    if sum(entry.size for entry in expected.values()) > MAX_UNPACKED_BYTES:
        raise PackError(f"the pack's files add up to more than {MAX_UNPACKED_BYTES} bytes")
    seen: set[str] = set()
    with _reading(pack_file) as tar:
        for count, member in enumerate(tar):
            if count == 0 and member.name == MANIFEST:
                continue
            if count > MAX_MEMBERS:
                raise PackError(f"the pack holds more than {MAX_MEMBERS} files")
            relative = _member_path(member)
            want = expected.get(relative)
            if want is None or relative in seen or member.size != want.size:
                raise PackError(f"{relative[:120]} in the pack does not match its manifest")
            seen.add(relative)
            path = confine(folder, relative, what="a file of the pack")
            path.parent.mkdir(parents=True, exist_ok=True)
            handle = tar.extractfile(member)
            assert handle is not None
            if _copy(handle, path) != want.sha256:
                raise PackError(f"{relative[:120]} in the pack does not match its manifest")
            path.chmod(0o755 if want.executable else 0o644)
    missing = sorted(set(expected) - seen)
    if missing:
        shown = ", ".join(name[:80] for name in missing[:5])
        raise PackError(f"the pack lacks files its manifest lists: {shown}")


def _member_path(member: tarfile.TarInfo) -> str:
    """The member's path inside the challenge folder; PackError for anything else."""
    name = PurePosixPath(member.name.replace("\\", "/"))
    if name.parts[:1] != (FOLDER,) or len(name.parts) < 2 or ".." in name.parts:
        raise PackError(f"the pack holds {member.name[:120]!r}, outside its challenge folder")
    if not member.isfile() or member.issparse():
        raise PackError(f"the pack holds {member.name[:120]!r}, which is not a regular file")
    return PurePosixPath(*name.parts[1:]).as_posix()


def _copy(source: IO[bytes], path: Path) -> str:
    """Copy ``source`` to ``path`` in chunks; its SHA-256."""
    digest = hashlib.sha256()
    with path.open("xb") as out:
        while chunk := source.read(_CHUNK):
            digest.update(chunk)
            out.write(chunk)
    return digest.hexdigest()
