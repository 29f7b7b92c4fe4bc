"""Settings come from PRODPROVEN_* variables and explicit overrides; bad values name the key."""

from __future__ import annotations

from pathlib import Path

import pytest
from prodproven.runner.config import REPO_ROOT, Settings
from prodproven.runner.errors import ConfigError


def test_defaults_put_the_store_under_the_data_dir(tmp_path):
    settings = Settings.from_env({"PRODPROVEN_DATA_DIR": str(tmp_path)})
    assert settings.store_url == f"sqlite:///{tmp_path / 'prodproven.db'}"
    assert settings.base_image == "python:3.11-slim"


def test_environment_variables_fill_settings(tmp_path):
    settings = Settings.from_env(
        {
            "PRODPROVEN_DATA_DIR": str(tmp_path),
            "PRODPROVEN_CPU_PINNING": "false",
            "PRODPROVEN_CHALLENGES_PATH": "/a:/b",
            "PRODPROVEN_BASE_IMAGE": "debian:12",
        }
    )
    assert settings.cpu_pinning is False
    assert settings.challenges_path == (Path("/a"), Path("/b"))
    assert settings.challenge_dirs[-3:-1] == (Path("/a"), Path("/b"))
    assert settings.challenge_dirs[-1] == settings.data_dir / "challenges"


def test_folders_searched_first_come_after_the_builtin_and_before_the_configured_path(tmp_path):
    settings = Settings.from_env(
        {"PRODPROVEN_DATA_DIR": str(tmp_path), "PRODPROVEN_CHALLENGES_PATH": "/a"}
    ).searching_first([Path("/cli1"), Path("/cli2")])
    assert settings.challenge_dirs == (
        REPO_ROOT / "challenges",
        Path("/cli1"),
        Path("/cli2"),
        Path("/a"),
        tmp_path / "challenges",
    )


def test_overrides_win_and_none_is_ignored(tmp_path):
    settings = Settings.from_env({"PRODPROVEN_DATA_DIR": "/x"}, data_dir=tmp_path, base_image=None)
    assert settings.data_dir == tmp_path and settings.base_image == "python:3.11-slim"


def test_a_bad_value_names_the_variable_and_the_value(tmp_path):
    with pytest.raises(ConfigError, match=r"PRODPROVEN_MAX_ARCHIVE_MB='huge' is invalid"):
        Settings.from_env(
            {"PRODPROVEN_DATA_DIR": str(tmp_path), "PRODPROVEN_MAX_ARCHIVE_MB": "huge"}
        )
