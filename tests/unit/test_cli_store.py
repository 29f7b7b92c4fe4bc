"""The data directory and the store, when they cannot be used: a folder without write access,
a store another process holds, a damaged, empty or foreign file, and a terminal that cannot
show a name. Each is one message saying what and what to do, and nothing personal is logged.
The ``prodproven`` command runs as a process of its own, as operators run it."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest

from prodproven.runner.runs.store import Store


def prodproven(
    data: Path, *args: str, env: dict[str, str] | None = None, wrapper: Sequence[str] = ()
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*wrapper, sys.executable, "-m", "prodproven.runner.cli", "--data-dir", str(data), *args],
        capture_output=True,
        text=True,
        encoding="utf-8",
        env={"PATH": "/usr/bin:/bin", "COLUMNS": "400", **(env or {})},
    )


def test_a_store_locked_past_the_busy_timeout_is_one_message_and_logs_no_email(
    tmp_path: Path,
) -> None:
    Store(f"sqlite:///{tmp_path / 'prodproven.db'}")
    holder = sqlite3.connect(tmp_path / "prodproven.db")
    holder.execute("BEGIN EXCLUSIVE")
    try:
        busy = prodproven(
            tmp_path, "candidate", "add", "ada", "--email", "ada@example.com",
            env={"PRODPROVEN_STORE_BUSY_SECONDS": "0.2"},
        )  # fmt: skip
    finally:
        holder.rollback()
        holder.close()
    assert busy.returncode == 1, busy.stderr
    assert "is busy: another prodproven process holds it" in busy.stderr
    assert "try again" in busy.stderr and "Traceback" not in busy.stderr
    assert not (tmp_path / "crash.log").exists()
    logged = (tmp_path / "logs" / "prodproven.log").read_text()
    assert "is busy" in logged and "ada@example.com" not in logged
    assert "--email '<email>'" in logged


def without_write_access() -> list[str]:
    """A prefix that runs a command without the power to write where its user may not (root
    writes anywhere unless it drops CAP_DAC_OVERRIDE)."""
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("running as root without setpriv to drop the override of file modes")
    return [setpriv, "--bounding-set=-dac_override,-dac_read_search", "--inh-caps=-all"]


@pytest.mark.parametrize("inside", ["", "data"], ids=["the folder", "a folder to make in it"])
def test_a_read_only_data_directory_is_one_message_naming_it(tmp_path: Path, inside: str) -> None:
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o555)
    refused = prodproven(locked / inside, "status", wrapper=without_write_access())
    assert refused.returncode == 1
    assert refused.stderr.count("error:") == 1 and "Traceback" not in refused.stderr
    assert f"--data-dir='{locked / inside}'" in refused.stderr
    assert "a folder prodproven can write in" in refused.stderr


def test_a_corrupted_store_names_the_file_and_says_to_restore_it_from_a_backup(
    tmp_path: Path,
) -> None:
    Store(f"sqlite:///{tmp_path / 'prodproven.db'}").engine.dispose()  # all in the file
    with (tmp_path / "prodproven.db").open("r+b") as db:
        db.write(b"\x00" * 100)  # the header, zeroed by a failed copy
    refused = prodproven(tmp_path, "status")
    assert refused.returncode == 1 and "please report it" not in refused.stderr
    assert f"the store {tmp_path / 'prodproven.db'} is damaged or not a prodproven store" in (
        refused.stderr
    )
    assert "restore it from a backup (docs/operations.md" in refused.stderr


def test_a_store_damaged_inside_says_to_restore_it_from_a_backup(tmp_path: Path) -> None:
    Store(f"sqlite:///{tmp_path / 'prodproven.db'}").engine.dispose()  # all in the file
    with (tmp_path / "prodproven.db").open("r+b") as db:
        db.seek(100)
        db.write(os.urandom(8000))  # the pages after the header
    refused = prodproven(tmp_path, "status")
    assert refused.returncode == 1 and "Traceback" not in refused.stderr
    assert "is damaged or not a prodproven store" in refused.stderr
    assert "restore it from a backup" in refused.stderr


def test_a_0_byte_store_is_refused_not_made_a_new_store(tmp_path: Path) -> None:
    (tmp_path / "prodproven.db").touch()
    refused = prodproven(tmp_path, "status")
    assert refused.returncode == 1
    assert f"the store {tmp_path / 'prodproven.db'} is empty (0 bytes)" in refused.stderr
    assert (tmp_path / "prodproven.db").stat().st_size == 0


def test_a_file_name_with_an_emoji_is_shown_on_a_terminal_that_cannot_show_it(
    tmp_path: Path,
) -> None:
    named = tmp_path / "crédential 😀.json"
    named.write_text("{}")
    checked = prodproven(
        tmp_path, "credential", "verify", str(named), env={"PYTHONIOENCODING": "ascii"}
    )
    assert checked.returncode == 1 and "internal error" not in checked.stderr
    assert "is NOT valid" in checked.stdout
    listed = prodproven(tmp_path, "candidate", "add", "Zoë 😀", env={"PYTHONIOENCODING": "ascii"})
    assert listed.returncode == 0 and "Zo\\xeb \\U0001f600" in listed.stdout
