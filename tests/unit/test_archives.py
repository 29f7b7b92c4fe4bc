"""Browsing a workspace archive: its regular files by relative path, and one file's bytes."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest

from prodproven.runner.errors import ProdprovenError
from prodproven.runner.runs.archives import Entry, entries, read_member

FILES = {
    "./serve.py": b"print('serving')\n",
    "./model/weights.bin": bytes(range(256)) * 4,
    "./README.md": b"# my service\n",
}


@pytest.fixture
def archive(tmp_path: Path) -> Path:
    """A tar like the sandbox writes: names prefixed with ``./``, directories included."""
    path = tmp_path / "workspace.tar"
    with tarfile.open(path, "w") as tar:
        for name in (".", "./model"):
            info = tarfile.TarInfo(name)
            info.type = tarfile.DIRTYPE
            info.mode = 0o755
            tar.addfile(info)
        for name, content in FILES.items():
            info = tarfile.TarInfo(name)
            info.size = len(content)
            tar.addfile(info, io.BytesIO(content))
        link = tarfile.TarInfo("./latest")
        link.type = tarfile.SYMTYPE
        link.linkname = "serve.py"
        tar.addfile(link)
    return path


def test_entries_lists_only_regular_files_by_relative_path_sorted(archive: Path) -> None:
    assert entries(archive) == [
        Entry("README.md", len(FILES["./README.md"])),
        Entry("model/weights.bin", 1024),
        Entry("serve.py", len(FILES["./serve.py"])),
    ]


def test_read_member_returns_the_files_bytes(archive: Path) -> None:
    assert read_member(archive, "model/weights.bin", max_bytes=4096) == FILES["./model/weights.bin"]
    assert read_member(archive, "serve.py", max_bytes=4096) == FILES["./serve.py"]


def test_read_member_refuses_a_path_not_in_the_archive(archive: Path) -> None:
    with pytest.raises(ProdprovenError, match="no file 'missing.py'"):
        read_member(archive, "missing.py", max_bytes=4096)


def test_read_member_refuses_a_directory_or_a_link(archive: Path) -> None:
    with pytest.raises(ProdprovenError, match="no file"):
        read_member(archive, "model", max_bytes=4096)
    with pytest.raises(ProdprovenError, match="no file"):
        read_member(archive, "latest", max_bytes=4096)


def test_read_member_refuses_a_file_larger_than_max_bytes(archive: Path) -> None:
    with pytest.raises(ProdprovenError, match="1024 bytes"):
        read_member(archive, "model/weights.bin", max_bytes=1023)


def test_read_member_accepts_a_file_of_exactly_max_bytes(archive: Path) -> None:
    assert len(read_member(archive, "model/weights.bin", max_bytes=1024)) == 1024
