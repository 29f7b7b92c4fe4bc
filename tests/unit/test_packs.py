"""Challenge packs: one checksummed file per challenge version, installed only whole, only
when every file matches its manifest, never over a newer version without --force."""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import tarfile
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from prodproven.runner import plugins
from prodproven.runner.spec.challenge import load_challenge
from prodproven.runner.spec.packs import Installed, PackError, install, pack, read_manifest
from tests.conftest import BUILTIN
from tests.unit.test_cli import prodproven

BROKEN = b"graders: 3\n"


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
    assert (manifest["id"], manifest["version"]) == ("acme-model", "1.0.0")
    assert len(manifest["files"]["challenge.yaml"]["sha256"]) == 64
    assert not any("__pycache__" in name for name in manifest["files"])


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
            manifest["files"]["challenge.yaml"]["sha256"] = hashlib.sha256(BROKEN).hexdigest()
            return [(name, json.dumps(manifest).encode())]
        return [(name, BROKEN if name == "challenge/challenge.yaml" else data)]

    rewrite(broken, break_spec)
    with pytest.raises(PackError, match="does not load"):
        install_into(tmp_path, broken)
    installed = load_challenge(tmp_path / "installed" / "acme-model", plugins.catalog())
    assert installed.spec.version == "1.0.0"


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
