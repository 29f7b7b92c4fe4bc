"""The installation's secret and the keys derived from it (lab tokens among them)."""

from __future__ import annotations

import stat
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from prodproven.runner.errors import ProdprovenError
from prodproven.runner.keys import SECRET_FILE, derive, instance_secret
from prodproven.runner.runs.lab import lab_token


def test_the_secret_is_created_once_private_and_stable(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"  # not there yet
    first = instance_secret(data_dir)
    path = data_dir / SECRET_FILE
    assert len(first) == 32
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    mtime = path.stat().st_mtime_ns
    assert instance_secret(data_dir) == first
    assert path.stat().st_mtime_ns == mtime
    assert [p.name for p in data_dir.iterdir()] == [SECRET_FILE]  # no temporary file left


def test_concurrent_first_calls_agree_on_one_secret(tmp_path: Path) -> None:
    with ThreadPoolExecutor(8) as pool:
        secrets = set(pool.map(lambda _: instance_secret(tmp_path), range(16)))
    assert len(secrets) == 1


def test_installations_have_different_secrets(tmp_path: Path) -> None:
    assert instance_secret(tmp_path / "a") != instance_secret(tmp_path / "b")


def test_a_damaged_secret_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / SECRET_FILE).write_bytes(b"short")
    with pytest.raises(ProdprovenError, match="not a 32-byte secret"):
        instance_secret(tmp_path)


def test_derive_is_a_stable_hex_key_that_differs_per_purpose_and_subject() -> None:
    secret = b"s" * 32
    key = derive(secret, "lab", "run1")
    assert key == derive(secret, "lab", "run1")
    assert len(key) == 64 and int(key, 16) >= 0
    others = {
        derive(secret, "other", "run1"),
        derive(secret, "lab", "run2"),
        derive(b"t" * 32, "lab", "run1"),
        # The separator keeps (purpose, subject) pairs apart that concatenate alike.
        derive(secret, "la", "brun1"),
    }
    assert key not in others and len(others) == 4


def test_a_purpose_with_nul_is_refused() -> None:
    with pytest.raises(ValueError):
        derive(b"s" * 32, "lab\0x", "run1")


def test_a_runs_lab_token_is_found_again_from_the_data_dir(tmp_path: Path) -> None:
    token = lab_token(tmp_path, "run1")
    assert token == lab_token(tmp_path, "run1")  # e.g. a restarted web server
    assert token == derive(instance_secret(tmp_path), "lab", "run1")
    assert token != lab_token(tmp_path, "run2")
