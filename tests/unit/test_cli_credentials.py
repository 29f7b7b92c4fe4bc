"""``prodproven credential``: issue writes a signed credential, verify says valid or exits 1
naming the failed check, revoke makes it verify as revoked."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from runner.store import Status, Store, utcnow
from tests.conftest import BUILTIN
from tests.unit.test_credentials import RESULT


def prodproven(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", "from runner.cli import main; main()", *args],
        capture_output=True,
        text=True,
        env={"PRODPROVEN_DATA_DIR": str(data_dir), "PATH": "/usr/bin:/bin"},
    )


@pytest.fixture
def graded(tmp_path: Path) -> str:
    store = Store(f"sqlite:///{tmp_path}/prodproven.db")
    run = store.create_run(
        challenge_id="deploy-model",
        challenge_version="1.1.0",
        challenge_path=str(BUILTIN / "deploy-model"),
        candidate="Grace",
        mode="scripted",
    )
    for status in (Status.provisioning, Status.running, Status.submitted, Status.grading):
        store.transition(run.id, status)
    store.transition(run.id, Status.graded, score=92.5, result=RESULT, graded_at=utcnow())
    return run.id


@pytest.fixture
def issued(tmp_path: Path, graded: str) -> Path:
    out = tmp_path / "grace.json"
    result = prodproven(tmp_path, "credential", "issue", graded, "--out", str(out))
    assert result.returncode == 0, result.stderr
    return out


def test_an_issued_credential_verifies_with_exit_0(tmp_path, issued):
    result = prodproven(tmp_path, "credential", "verify", str(issued), "--json")
    assert result.returncode == 0, result.stdout
    assert json.loads(result.stdout)["ok"] is True


def test_a_tampered_credential_exits_1_naming_the_signature(tmp_path, issued):
    document = json.loads(issued.read_text())
    document["validUntil"] = "2099-12-31T00:00:00Z"
    issued.write_text(json.dumps(document))
    result = prodproven(tmp_path, "credential", "verify", str(issued))
    assert result.returncode == 1
    assert "signature" in result.stdout and "FAILED" in result.stdout


def test_a_revoked_credential_verifies_as_revoked(tmp_path, issued):
    credential_id = json.loads(issued.read_text())["id"]
    revoke = prodproven(
        tmp_path, "credential", "revoke", credential_id, "--reason", "shared the workspace"
    )
    assert revoke.returncode == 0, revoke.stderr
    verdict = json.loads(prodproven(tmp_path, "credential", "verify", str(issued), "--json").stdout)
    status = next(c for c in verdict["checks"] if c["name"] == "status")
    assert not status["ok"] and "shared the workspace" in status["detail"]


def test_a_file_that_is_not_json_is_one_message(tmp_path):
    junk = tmp_path / "junk.json"
    junk.write_text("not json")
    result = prodproven(tmp_path, "credential", "verify", str(junk))
    assert result.returncode == 1 and "is not a JSON credential" in result.stderr
    assert "Traceback" not in result.stderr
