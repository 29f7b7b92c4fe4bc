"""Challenge packs: one checksummed file per challenge version, installed only whole, only
when every file matches its manifest, never over a newer version without --force."""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import tarfile
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from prodproven.runner import plugins
from prodproven.runner.spec import packs
from prodproven.runner.spec.challenge import load_challenge
from prodproven.runner.spec.packs import Installed, PackError, install, pack, read_manifest
from tests.conftest import BUILTIN
from tests.unit.test_cli import prodproven

BROKEN = b"graders: 3\n"
CATALOG = plugins.catalog()


def authored(tmp_path: Path, version: str = "1.0.0", name: str = "acme-model") -> Path:
    """A firm's challenge: deploy-model's folder under another id, at ``version``."""
    root = tmp_path / "src" / version / name
    shutil.copytree(BUILTIN / "deploy-model", root, ignore=shutil.ignore_patterns("__pycache__"))
    spec = yaml.safe_load((root / "challenge.yaml").read_text())
    spec.update(id=name, version=version)
    (root / "challenge.yaml").write_text(yaml.safe_dump(spec))
    (root / "__pycache__").mkdir()
    (root / "__pycache__" / "x.pyc").write_bytes(b"\0")
    return root


def packed(tmp_path: Path, version: str = "1.0.0") -> Path:
    challenge = load_challenge(authored(tmp_path, version), plugins.catalog())
    return pack(challenge, tmp_path / f"acme-model-{version}.ppc.tar.gz").path


def rewrite(pack_file: Path, change: Callable[[str, bytes], list[tuple[str, bytes]]]) -> None:
    """Rewrite a pack's members through ``change(name, data) -> list[(name, data)]``."""
    with tarfile.open(pack_file, "r:gz") as tar:
        members = []
        for member in tar.getmembers():
            if member.isfile():
                content = tar.extractfile(member)
                assert content is not None
                members.append((member.name, content.read()))
    with tarfile.open(pack_file, "w:gz") as tar:
        for name, data in members:
            for new_name, new_data in change(name, data):
                info = tarfile.TarInfo(new_name)
                info.size = len(new_data)
                tar.addfile(info, io.BytesIO(new_data))


def install_into(tmp_path: Path, pack_file: Path, *, force: bool = False) -> Installed:
    return install(pack_file, tmp_path / "installed", {}, plugins.catalog(), force=force)


def test_a_pack_carries_id_version_and_every_files_checksum(tmp_path: Path) -> None:
    manifest = read_manifest(packed(tmp_path))
    assert (manifest.id, manifest.version) == ("acme-model", "1.0.0")
    assert len(manifest.files["challenge.yaml"].sha256) == 64
    assert not any("__pycache__" in name for name in manifest.files)


def test_an_installed_pack_is_the_same_challenge(tmp_path: Path) -> None:
    done = install_into(tmp_path, packed(tmp_path))
    source = tmp_path / "src" / "1.0.0" / "acme-model"
    assert done.path == tmp_path / "installed" / "acme-model" and done.replaced is None
    for path in source.rglob("*"):
        if path.is_file() and "__pycache__" not in path.parts:
            copy = done.path / path.relative_to(source)
            assert copy.read_bytes() == path.read_bytes()
            assert (copy.stat().st_mode & 0o100) == (path.stat().st_mode & 0o100)
    assert load_challenge(done.path, plugins.catalog()).spec.version == "1.0.0"


def test_a_file_altered_after_packing_is_refused(tmp_path: Path) -> None:
    pack_file = packed(tmp_path)
    rewrite(pack_file, lambda n, d: [(n, d + b"\n# sneaky" if n.endswith("brief.md") else d)])
    with pytest.raises(PackError, match="brief.md in the pack does not match its manifest"):
        install_into(tmp_path, pack_file)
    assert not (tmp_path / "installed" / "acme-model").exists()


def test_a_path_outside_the_challenge_folder_is_refused(tmp_path: Path) -> None:
    pack_file = packed(tmp_path)
    rewrite(
        pack_file,
        lambda n, d: [(n, d)] + ([("challenge/../../evil", b"x")] if n == "manifest.json" else []),
    )
    with pytest.raises(PackError, match="outside its challenge folder"):
        install_into(tmp_path, pack_file)
    assert not (tmp_path / "evil").exists()


def test_a_file_missing_from_the_pack_is_refused(tmp_path: Path) -> None:
    pack_file = packed(tmp_path)
    rewrite(pack_file, lambda n, d: [] if n.endswith("brief.md") else [(n, d)])
    with pytest.raises(PackError, match="lacks files its manifest lists: brief.md"):
        install_into(tmp_path, pack_file)


def test_something_that_is_not_a_pack_is_refused(tmp_path: Path) -> None:
    junk = tmp_path / "junk.tar.gz"
    junk.write_bytes(b"not a tar")
    with pytest.raises(PackError, match="not a readable challenge pack"):
        install_into(tmp_path, junk)


def test_an_id_used_by_another_challenge_is_refused(tmp_path: Path) -> None:
    with pytest.raises(PackError, match="already used by /elsewhere/acme-model"):
        install(
            packed(tmp_path),
            tmp_path / "installed",
            {"acme-model": Path("/elsewhere/acme-model")},
            plugins.catalog(),
        )


def test_an_older_version_over_a_newer_one_needs_force(tmp_path: Path) -> None:
    install_into(tmp_path, packed(tmp_path, "1.2.0"))
    older = packed(tmp_path, "1.1.9")
    with pytest.raises(
        PackError, match="1.2.0 is installed; installing the older 1.1.9 needs --force"
    ):
        install_into(tmp_path, older)
    done = install_into(tmp_path, older, force=True)
    assert (done.version, done.replaced) == ("1.1.9", "1.2.0")


def test_a_newer_version_replaces_the_installed_one(tmp_path: Path) -> None:
    install_into(tmp_path, packed(tmp_path, "1.0.0"))
    done = install_into(tmp_path, packed(tmp_path, "1.10.0"))
    assert (done.version, done.replaced) == ("1.10.0", "1.0.0")
    assert sorted(p.name for p in (tmp_path / "installed").iterdir()) == ["acme-model"]


def test_a_pack_whose_spec_does_not_load_leaves_the_installed_version(tmp_path: Path) -> None:
    install_into(tmp_path, packed(tmp_path, "1.0.0"))
    broken = packed(tmp_path, "2.0.0")

    def break_spec(name: str, data: bytes) -> list[tuple[str, bytes]]:
        if name == "manifest.json":
            manifest = json.loads(data)
            manifest["files"]["challenge.yaml"].update(
                sha256=hashlib.sha256(BROKEN).hexdigest(), size=len(BROKEN)
            )
            return [(name, json.dumps(manifest).encode())]
        return [(name, BROKEN if name == "challenge/challenge.yaml" else data)]

    rewrite(broken, break_spec)
    with pytest.raises(PackError, match="does not load"):
        install_into(tmp_path, broken)
    installed = load_challenge(tmp_path / "installed" / "acme-model", plugins.catalog())
    assert installed.spec.version == "1.0.0"
    assert [p.name for p in (tmp_path / "installed").iterdir()] == ["acme-model"]


def test_pack_and_install_from_the_command_line(tmp_path: Path) -> None:
    source = authored(tmp_path)
    out = tmp_path / "acme.ppc.tar.gz"
    packed_doc = json.loads(
        prodproven(
            "challenge", "pack", str(source), "--out", str(out), "--json", env_dir=tmp_path
        ).stdout
    )
    assert packed_doc["id"] == "acme-model" and len(packed_doc["sha256"]) == 64
    data = tmp_path / "other-installation"
    done = prodproven("challenge", "install", str(out), "--json", env_dir=data)
    assert done.returncode == 0, done.stderr
    listed = json.loads(prodproven("challenge", "list", "--json", env_dir=data).stdout)
    assert {"acme-model", "deploy-model"} <= {row.get("id") for row in listed}


def test_installing_a_builtin_id_from_the_command_line_is_one_message(tmp_path: Path) -> None:
    out = tmp_path / "dm.ppc.tar.gz"
    assert (
        prodproven(
            "challenge", "pack", "deploy-model", "--out", str(out), env_dir=tmp_path
        ).returncode
        == 0
    )
    refused = prodproven("challenge", "install", str(out), env_dir=tmp_path)
    assert refused.returncode == 1
    assert "already used by" in refused.stderr and "Traceback" not in refused.stderr


# hostile packs -------------------------------------------------------------------------------


def with_manifest(pack_file: Path, **changes: object) -> Path:
    """``pack_file`` with its manifest's keys changed (its files untouched)."""

    def change(name: str, data: bytes) -> list[tuple[str, bytes]]:
        if name == "manifest.json":
            return [(name, json.dumps({**json.loads(data), **changes}).encode())]
        return [(name, data)]

    rewrite(pack_file, change)
    return pack_file


@pytest.mark.parametrize(
    "hostile", ["./../../victim", "../victim", "/tmp/victim", "./deploy-model", "Acme", "a\n"]
)
def test_a_pack_id_with_dot_dot_or_any_path_is_refused_before_anything_is_written(
    tmp_path: Path, hostile: str
) -> None:
    pack_file = with_manifest(packed(tmp_path), id=hostile)
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "keep.txt").write_text("mine")
    with pytest.raises(PackError, match="manifest.json is malformed: id: String should match"):
        install(pack_file, tmp_path / "data" / "installed", {"deploy-model": BUILTIN}, CATALOG)
    assert (victim / "keep.txt").read_text() == "mine"
    assert not (tmp_path / "data").exists()


def test_a_packs_version_is_its_specs_and_a_manifest_claiming_another_is_refused(
    tmp_path: Path,
) -> None:
    install_into(tmp_path, packed(tmp_path, "2.0.0"))
    downgrade = with_manifest(packed(tmp_path, "1.0.0"), version="99.0.0")
    with pytest.raises(PackError, match="manifest says version 99.0.0 but its challenge.yaml says"):
        install_into(tmp_path, downgrade)
    assert load_challenge(tmp_path / "installed" / "acme-model", CATALOG).spec.version == "2.0.0"


@pytest.mark.parametrize(
    "manifest",
    [
        b"not json",
        b"[]",
        b'{"format": 1}',
        b'{"format": 1, "id": "acme-model", "version": "1.0.0", "files": 3}',
        b'{"format": 1, "id": "acme-model", "version": "1.0.0", "files": {"a": {"size": -1}}}',
        b'{"format": "1"}',
        b"[" * 5000 + b"]" * 5000,
    ],
)
def test_a_malformed_pack_manifest_is_one_short_pack_error(tmp_path: Path, manifest: bytes) -> None:
    pack_file = packed(tmp_path)
    rewrite(pack_file, lambda n, d: [(n, manifest if n == "manifest.json" else d)])
    with pytest.raises(PackError) as info:
        install_into(tmp_path, pack_file)
    assert len(str(info.value)) < 1024
    assert not (tmp_path / "installed").exists()


class Zeros:
    """A file of ``size`` zero bytes, read without holding it."""

    def __init__(self, size: int) -> None:
        self.left = size

    def read(self, size: int = -1) -> bytes:
        size = self.left if size < 0 else min(size, self.left)
        self.left -= size
        return bytes(size)


def bomb(tmp_path: Path, declared: int) -> Path:
    """A pack whose one file is 64 MiB of zeros (about 64 KiB gzip'd), listed in its manifest
    with the size ``declared``."""
    size = 64 * 2**20
    digest = hashlib.sha256(bytes(size)).hexdigest()
    manifest = {
        "format": 1,
        "id": "acme-model",
        "version": "1.0.0",
        "files": {"bomb.bin": {"sha256": digest, "size": declared}},
    }
    pack_file = tmp_path / "bomb.ppc.tar.gz"
    with tarfile.open(pack_file, "w:gz", compresslevel=1) as tar:
        data = json.dumps(manifest).encode()
        info = tarfile.TarInfo("manifest.json")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
        info = tarfile.TarInfo("challenge/bomb.bin")
        info.size = size
        tar.addfile(info, Zeros(size))
    return pack_file


@pytest.mark.parametrize("declared", [1000, 64 * 2**20])
def test_a_gzip_bomb_pack_is_refused_while_reading_within_little_memory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, declared: int
) -> None:
    monkeypatch.setattr(packs, "MAX_UNPACKED_BYTES", 2**20)
    pack_file = bomb(tmp_path, declared)
    tracemalloc.start()
    try:
        with pytest.raises(PackError, match="does not match its manifest|more than 1048576"):
            install_into(tmp_path, pack_file)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 8 * 2**20
    assert list((tmp_path / "installed").iterdir()) == []


def test_a_pack_with_a_huge_tar_header_is_refused(tmp_path: Path) -> None:
    pack_file = packed(tmp_path)
    with tarfile.open(pack_file, "r:gz") as tar:
        members = [(m, (tar.extractfile(m) or io.BytesIO()).read()) for m in tar.getmembers()]
    with tarfile.open(pack_file, "w:gz", format=tarfile.PAX_FORMAT) as tar:
        for member, data in members:
            member.pax_headers = {"comment": "x" * 2**20}
            tar.addfile(member, io.BytesIO(data))
    with pytest.raises(PackError, match="tar header of"):
        install_into(tmp_path, pack_file)


def test_an_interrupted_pack_leaves_no_partial_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    challenge = load_challenge(authored(tmp_path), CATALOG)

    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(tarfile.TarFile, "addfile", interrupted)
    out = tmp_path / "packs" / "acme.ppc.tar.gz"
    with pytest.raises(KeyboardInterrupt):
        pack(challenge, out)
    assert list(out.parent.iterdir()) == []
