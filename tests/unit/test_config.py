"""Settings come from PRODPROVEN_* variables and explicit overrides; bad values name the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from prodproven.runner.config import Settings, builtin_challenges
from prodproven.runner.errors import ConfigError
from prodproven.runner.spec.challenge import challenge_folders


def test_defaults_put_the_store_under_the_data_dir(tmp_path: Path) -> None:
    settings = Settings.from_env({"PRODPROVEN_DATA_DIR": str(tmp_path)})
    assert settings.store_url == f"sqlite:///{tmp_path / 'prodproven.db'}"
    assert settings.base_image == "python:3.11-slim"


def test_environment_variables_fill_settings(tmp_path: Path) -> None:
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


def test_folders_searched_first_come_after_the_builtin_and_before_the_configured_path(
    tmp_path: Path,
) -> None:
    settings = Settings.from_env(
        {"PRODPROVEN_DATA_DIR": str(tmp_path), "PRODPROVEN_CHALLENGES_PATH": "/a"}
    ).searching_first([Path("/cli1"), Path("/cli2")])
    assert settings.challenge_dirs == (
        builtin_challenges(),
        Path("/cli1"),
        Path("/cli2"),
        Path("/a"),
        tmp_path / "challenges",
    )


def test_the_builtin_challenges_are_found_as_package_data() -> None:
    folder = builtin_challenges()
    assert (folder / "__init__.py").is_file()
    assert sorted(challenge_folders([folder])) == [
        "capacity-plan",
        "deploy-model",
        "fix-drift",
        "incident-response",
        "review-ai-change",
        "serve-retrieval",
    ]


def test_overrides_win_and_none_is_ignored(tmp_path: Path) -> None:
    settings = Settings.from_env({"PRODPROVEN_DATA_DIR": "/x"}, data_dir=tmp_path, base_image=None)
    assert settings.data_dir == tmp_path and settings.base_image == "python:3.11-slim"


def test_a_bad_value_names_the_variable_and_the_value(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"PRODPROVEN_MAX_ARCHIVE_MB='huge' is invalid"):
        Settings.from_env(
            {"PRODPROVEN_DATA_DIR": str(tmp_path), "PRODPROVEN_MAX_ARCHIVE_MB": "huge"}
        )


def test_the_log_level_is_info_unless_set_in_any_case(tmp_path: Path) -> None:
    assert Settings.from_env({}, data_dir=tmp_path).log_level == "INFO"
    chosen = Settings.from_env({"PRODPROVEN_LOG_LEVEL": "debug"}, data_dir=tmp_path)
    assert chosen.log_level == "DEBUG"


def test_an_unknown_log_level_names_the_variable(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="PRODPROVEN_LOG_LEVEL='loud'"):
        Settings.from_env({"PRODPROVEN_LOG_LEVEL": "loud"}, data_dir=tmp_path)


def test_trusted_proxies_are_addresses_networks_or_a_star(tmp_path: Path) -> None:
    chosen = "10.0.0.5, 172.16.0.0/12,*"
    env = {"PRODPROVEN_TRUSTED_PROXIES": chosen}
    assert Settings.from_env(env, data_dir=tmp_path).trusted_proxies == chosen
    with pytest.raises(ConfigError, match="PRODPROVEN_TRUSTED_PROXIES='proxy.example.com'"):
        Settings.from_env({"PRODPROVEN_TRUSTED_PROXIES": "proxy.example.com"}, data_dir=tmp_path)
