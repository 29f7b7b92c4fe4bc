"""The command line's edges: help that teaches, one readable message per error."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest


def prodproven(*args: str, env_dir, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", "from runner.cli import main; main()", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env={"PRODPROVEN_DATA_DIR": str(env_dir), "PATH": "/usr/bin:/bin"},
    )


def test_help_lists_every_command(tmp_path):
    out = prodproven("--help", env_dir=tmp_path).stdout
    for command in (
        "challenge",
        "run",
        "start",
        "submit",
        "status",
        "show",
        "grade",
        "gc",
        "images",
    ):
        assert f"  {command} " in out


def test_challenge_list_json_includes_deploy_model(tmp_path):
    rows = json.loads(prodproven("challenge", "list", "--json", env_dir=tmp_path).stdout)
    assert any(row.get("id") == "deploy-model" for row in rows)


def test_a_malformed_spec_is_one_message_without_traceback(tmp_path, make_challenge):
    root = make_challenge(lambda s: s.update(time_limit_minutes=-5))
    result = prodproven("run", str(root), env_dir=tmp_path)
    assert result.returncode == 2
    assert "time_limit_minutes" in result.stderr and "Traceback" not in result.stderr


def test_an_unknown_challenge_is_one_message(tmp_path):
    result = prodproven("run", "no-such-challenge", env_dir=tmp_path)
    assert result.returncode == 1
    assert "no challenge 'no-such-challenge'" in result.stderr and "Traceback" not in result.stderr


def test_an_unknown_run_is_one_message(tmp_path):
    result = prodproven("show", "abc123", env_dir=tmp_path)
    assert result.returncode == 1 and "no run 'abc123'" in result.stderr


@pytest.mark.parametrize("variable", ["DOCKER_HOST"])
def test_a_dead_docker_daemon_is_one_message(tmp_path, variable):
    result = subprocess.run(
        [sys.executable, "-c", "from runner.cli import main; main()", "run", "deploy-model"],
        capture_output=True,
        text=True,
        env={"PRODPROVEN_DATA_DIR": str(tmp_path), variable: "unix:///nonexistent.sock"},
    )
    assert result.returncode == 1
    assert "Docker engine does not answer" in result.stderr and "Traceback" not in result.stderr
