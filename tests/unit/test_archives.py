"""Workspace archives: written out of a container within the archive cap (oversized files left
out and named, or the archive refused), never half-written, even on a full disk; browsed by
relative path."""

from __future__ import annotations

import errno
import hashlib
import io
import tarfile
from collections.abc import Generator
from pathlib import Path
from typing import cast

import pytest

from prodproven.runner.errors import ContainerError, ProdprovenError
from prodproven.runner.runs.archives import (
    DataDirFull,
    Entry,
    Written,
    entries,
    left_out_message,
    read_member,
    write_archive,
)
from prodproven.sandbox.environment import Sandbox

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


# writing an archive out of a container ----------------------------------------------------------
MIB = 2**20


class TarBox:
    """Stands in for a workspace container: ``archive_chunks`` streams a tar of ``files`` in
    small chunks; ``fail_after`` raises that error once that many chunks went out."""

    name = "pp-t1-workspace-workspace"

    def __init__(self, files: dict[str, bytes], fail_after: tuple[int, OSError] | None = None):
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w") as tar:
            for name, content in files.items():
                info = tarfile.TarInfo(f"./{name}")
                info.size = len(content)
                tar.addfile(info, io.BytesIO(content))
        self.data = buf.getvalue()
        self.fail_after = fail_after

    def stop(self, timeout: float = 5.0) -> None:
        """Nothing runs in it."""

    def archive_chunks(self, path: str) -> Generator[bytes, None, None]:
        assert path == "/workspace/."
        for n, start in enumerate(range(0, len(self.data), 4096)):
            if self.fail_after is not None and n == self.fail_after[0]:
                raise self.fail_after[1]
            yield self.data[start : start + 4096]


def written_files(archive: Path) -> dict[str, bytes]:
    with tarfile.open(archive) as tar:
        return {
            m.name.removeprefix("./"): (tar.extractfile(m) or io.BytesIO()).read()
            for m in tar.getmembers()
            if m.isfile()
        }


def write(box: TarBox, final: Path, max_bytes: int, leave_out: bool = True) -> Written:
    return write_archive(
        cast(Sandbox, box), "/workspace", final, max_bytes=max_bytes, leave_out=leave_out
    )


def test_an_archive_within_its_cap_keeps_every_file_and_records_its_checksum(
    tmp_path: Path,
) -> None:
    files = {"serve.py": b"print('hi')\n", "model/weights.bin": bytes(range(256)) * 40}
    final = tmp_path / "workspace.tar"
    box = TarBox(files)
    written = write(box, final, max_bytes=MIB)
    assert final.read_bytes() == box.data  # the engine's stream, as it came
    assert written.left_out == []
    assert written.sha256 == hashlib.sha256(final.read_bytes()).hexdigest()
    assert written.size == final.stat().st_size <= MIB


def test_a_file_past_the_archive_cap_is_left_out_and_named_while_the_rest_is_kept(
    tmp_path: Path,
) -> None:
    files = {"a.py": b"a" * 1000, "big.bin": b"\0" * (2 * MIB), "z.py": b"z" * 1000}
    final = tmp_path / "workspace.tar"
    written = write(TarBox(files), final, max_bytes=MIB)
    assert written_files(final) == {"a.py": files["a.py"], "z.py": files["z.py"]}
    assert written.left_out == [Entry("big.bin", 2 * MIB)]
    assert final.stat().st_size <= MIB
    message = left_out_message(written.left_out, MIB)
    assert "big.bin (2.0 MiB)" in message and "cap of 1 MiB" in message


def test_a_service_folder_past_the_cap_is_refused_and_leaves_no_file(tmp_path: Path) -> None:
    files = {"big.bin": b"\0" * (2 * MIB)}
    final = tmp_path / "db.tar"
    with pytest.raises(ContainerError, match="larger than the limit of 1048576 bytes"):
        write(TarBox(files), final, max_bytes=MIB, leave_out=False)
    assert list(tmp_path.iterdir()) == []


def test_a_full_data_directory_is_named_with_the_space_needed_and_leaves_no_partial_file(
    tmp_path: Path,
) -> None:
    full = OSError(errno.ENOSPC, "No space left on device")
    final = tmp_path / "runs" / "r1" / "workspace.tar"
    final.parent.mkdir(parents=True)
    box = TarBox({"data.bin": b"x" * (64 * 1024)}, fail_after=(3, full))
    with pytest.raises(DataDirFull) as caught:
        write(box, final, max_bytes=MIB)
    assert str(final) in str(caught.value) and "needs up to 1 MiB" in str(caught.value)
    assert list(final.parent.iterdir()) == []


def test_any_other_failure_while_writing_leaves_no_partial_file(tmp_path: Path) -> None:
    box = TarBox({"data.bin": b"x" * (64 * 1024)}, fail_after=(3, OSError(errno.EIO, "I/O")))
    with pytest.raises(OSError, match="I/O"):
        write(box, tmp_path / "workspace.tar", max_bytes=MIB)
    assert list(tmp_path.iterdir()) == []
