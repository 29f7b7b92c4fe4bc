"""The command line's edges: help that teaches, one readable message per error."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from prodproven.runner.runs.store import Status, Store
from tests.conftest import BUILTIN, MakeChallenge
from tests.unit.fakes import queued_on_cluster


def prodproven(
    *args: str, env_dir: Path, stdin: str | None = None, columns: int = 80
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "prodproven.runner.cli", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env={"PRODPROVEN_DATA_DIR": str(env_dir), "PATH": "/usr/bin:/bin", "COLUMNS": str(columns)},
    )


def ok(*args: str, data: Path) -> str:
    """``prodproven ARGS`` on the data directory ``data`` (a wide console), which must succeed:
    its output."""
    done = prodproven(*args, env_dir=data, columns=200)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_help_lists_every_command(tmp_path: Path) -> None:
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


def test_challenge_list_json_includes_deploy_model(tmp_path: Path) -> None:
    rows = json.loads(prodproven("challenge", "list", "--json", env_dir=tmp_path).stdout)
    assert any(row.get("id") == "deploy-model" for row in rows)


def test_a_malformed_spec_is_one_message_without_traceback(
    tmp_path: Path, make_challenge: MakeChallenge
) -> None:
    root = make_challenge(lambda s: s.update(time_limit_minutes=-5))
    result = prodproven("run", str(root), env_dir=tmp_path)
    assert result.returncode == 2
    assert "time_limit_minutes" in result.stderr and "Traceback" not in result.stderr


def test_an_unknown_challenge_is_one_message(tmp_path: Path) -> None:
    result = prodproven("run", "no-such-challenge", env_dir=tmp_path)
    assert result.returncode == 1
    assert "no challenge 'no-such-challenge'" in result.stderr and "Traceback" not in result.stderr


def test_an_unknown_run_is_one_message(tmp_path: Path) -> None:
    result = prodproven("show", "abc123", env_dir=tmp_path)
    assert result.returncode == 1 and "no run 'abc123'" in result.stderr


@pytest.mark.parametrize("variable", ["DOCKER_HOST"])
def test_a_dead_docker_daemon_is_one_message(tmp_path: Path, variable: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "prodproven.runner.cli", "run", "deploy-model"],
        capture_output=True,
        text=True,
        env={"PRODPROVEN_DATA_DIR": str(tmp_path), variable: "unix:///nonexistent.sock"},
    )
    assert result.returncode == 1
    assert "Docker engine does not answer" in result.stderr and "Traceback" not in result.stderr


def unwrapped(text: str) -> str:
    """``text`` without whitespace, as the error console wraps long lines anywhere."""
    return "".join(text.split())


def challenges_dir_holding(folder: Path, make_challenge: MakeChallenge, name: str) -> Path:
    """``folder`` holding a copy of deploy-model renamed to ``name``."""
    root = make_challenge(lambda s: s.update(id=name))
    folder.mkdir()
    return root.rename(folder / name).parent


def test_challenges_dir_finds_challenges_by_id(
    tmp_path: Path, make_challenge: MakeChallenge
) -> None:
    extra = challenges_dir_holding(tmp_path / "extra", make_challenge, "acme-churn")
    listed = prodproven(
        "--challenges-dir", str(extra), "challenge", "list", "--json", env_dir=tmp_path
    )
    rows = {row.get("id"): row for row in json.loads(listed.stdout)}
    assert rows["acme-churn"]["path"] == str(extra / "acme-churn")


def test_challenges_dir_may_be_given_more_than_once(
    tmp_path: Path, make_challenge: MakeChallenge
) -> None:
    first = challenges_dir_holding(tmp_path / "first", make_challenge, "acme-one")
    second = challenges_dir_holding(tmp_path / "second", make_challenge, "acme-two")
    listed = prodproven(
        "--challenges-dir", str(first), "--challenges-dir", str(second), "challenge", "list",
        "--json", env_dir=tmp_path,
    )  # fmt: skip
    assert {"acme-one", "acme-two"} <= {row.get("id") for row in json.loads(listed.stdout)}


def test_a_missing_challenges_dir_is_a_usage_error(tmp_path: Path) -> None:
    result = prodproven(
        "--challenges-dir", str(tmp_path / "nope"), "challenge", "list", env_dir=tmp_path
    )
    assert result.returncode == 2 and "does not exist" in result.stderr


@pytest.mark.parametrize("args", [(), ("0123456789", "--all")])
def test_supervise_takes_a_run_or_all_of_them(tmp_path: Path, args: tuple[str, ...]) -> None:
    result = prodproven("supervise", *args, env_dir=tmp_path)
    assert result.returncode == 2 and "give either RUN or --all" in result.stderr


def test_an_id_in_two_challenge_folders_is_one_message_naming_both(
    tmp_path: Path, make_challenge: MakeChallenge
) -> None:
    extra = challenges_dir_holding(tmp_path / "extra", make_challenge, "deploy-model")
    result = prodproven("--challenges-dir", str(extra), "run", "deploy-model", env_dir=tmp_path)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    both = f"{BUILTIN / 'deploy-model'} and {extra / 'deploy-model'}"
    assert unwrapped(f"'deploy-model' is used by 2 folders: {both}") in unwrapped(result.stderr)


def test_challenge_list_shows_a_clash_with_both_folders(
    tmp_path: Path, make_challenge: MakeChallenge
) -> None:
    extra = challenges_dir_holding(tmp_path / "extra", make_challenge, "deploy-model")
    listed = prodproven(
        "--challenges-dir", str(extra), "challenge", "list", "--json", env_dir=tmp_path
    )
    [clash] = [row for row in json.loads(listed.stdout) if row.get("id") == "deploy-model"]
    assert clash["paths"][1] == str(extra / "deploy-model") and "unique" in clash["error"]


def test_install_refuses_an_id_used_in_a_challenges_dir(
    tmp_path: Path, make_challenge: MakeChallenge
) -> None:
    extra = challenges_dir_holding(tmp_path / "extra", make_challenge, "acme-churn")
    pack = tmp_path / "acme.ppc.tar.gz"
    packed = prodproven(
        "challenge", "pack", str(extra / "acme-churn"), "--out", str(pack), env_dir=tmp_path
    )
    assert packed.returncode == 0, packed.stderr
    refused = prodproven(
        "--challenges-dir", str(extra), "challenge", "install", str(pack), env_dir=tmp_path
    )
    assert refused.returncode == 1
    assert unwrapped(f"already used by {extra / 'acme-churn'}") in unwrapped(refused.stderr)


@pytest.mark.parametrize("run_id", ["[/x]", "[bold]abc", ":key: [red]"])
def test_text_that_looks_like_markup_is_printed_as_typed(tmp_path: Path, run_id: str) -> None:
    result = prodproven("show", run_id, env_dir=tmp_path)
    assert result.returncode == 1
    assert result.stderr.startswith(f"error: no run {run_id!r}")
    assert "Traceback" not in result.stderr


def test_each_command_and_its_errors_go_to_the_log_file_of_the_data_dir(tmp_path: Path) -> None:
    prodproven("status", env_dir=tmp_path)
    prodproven("show", "abc123", env_dir=tmp_path)
    lines = (tmp_path / "logs" / "prodproven.log").read_text().splitlines()
    assert any(line.endswith("command: prodproven status") for line in lines)
    assert any(line.endswith("command: prodproven show abc123") for line in lines)
    assert any("ERROR" in line and "RunNotFound: no run 'abc123'" in line for line in lines)


def test_status_shows_each_queued_runs_place_in_the_queue(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'prodproven.db'}")
    ids = []
    for name in ("ada", "bob", "cy"):
        run = store.create_run(
            challenge_id="deploy-model",
            challenge_version="1.0.0",
            challenge_path="/c",
            candidate=name,
            mode="interactive",
        )
        store.transition(run.id, Status.provisioning if name == "ada" else Status.queued)
        ids.append(run.id)
    rows = json.loads(prodproven("status", "--json", env_dir=tmp_path).stdout)
    assert {row["run_id"]: row["queue_position"] for row in rows} == {
        ids[0]: None,
        ids[1]: 1,
        ids[2]: 2,
    }
    one = json.loads(prodproven("status", ids[2], "--json", env_dir=tmp_path).stdout)
    assert (one["status"], one["queue_position"], one["queue_length"]) == ("queued", 2, 2)
    table = prodproven("status", env_dir=tmp_path, columns=200).stdout
    assert "queued (1 of 2)" in table and "queued (2 of 2)" in table


def test_status_shows_what_the_cluster_said_for_a_run_waiting_for_room_there(
    tmp_path: Path,
) -> None:
    store = Store(f"sqlite:///{tmp_path / 'prodproven.db'}")
    run = queued_on_cluster(store, "ada")
    one = json.loads(prodproven("status", run.id, "--json", env_dir=tmp_path).stdout)
    assert (one["status"], one["queue_position"], one["error"]) == (
        "queued",
        None,
        "no suitable node",
    )
    table = prodproven("status", env_dir=tmp_path, columns=200).stdout
    assert "queued (waiting for room in the cluster: no suitable node)" in table
