"""``prodproven credential``: issue writes a signed credential, verify says valid or exits 1
naming the failed check, revoke makes it verify as revoked, also to a verifier that only reads
the status list the web app publishes; status writes that list for static hosting."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from prodproven.runner.config import Settings
from prodproven.runner.portal.core import Portal
from prodproven.runner.runs.store import Status, Store, utcnow
from prodproven.runner.web.app import create_app
from tests.conftest import BUILTIN
from tests.unit.test_credentials import RESULT


def closed_port() -> int:
    """A loopback port nothing listens on (it was free a moment ago)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


OFFLINE = f"http://127.0.0.1:{closed_port()}"
"""The public URL of an installation whose web app is not running."""


def prodproven(
    data_dir: Path, *args: str, public_url: str = OFFLINE
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "prodproven.runner.cli", *args],
        capture_output=True,
        text=True,
        env={
            "PRODPROVEN_DATA_DIR": str(data_dir),
            "PRODPROVEN_PUBLIC_URL": public_url,
            "PATH": "/usr/bin:/bin",
        },
    )


def checks(verdict: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["name"]: c for c in verdict["checks"]}


@contextmanager
def serving(data_dir: Path) -> Iterator[str]:
    """The web app of the installation in ``data_dir`` on a loopback port; its public URL."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    settings = Settings.from_env({}, data_dir=data_dir, public_url=url)
    portal = Portal(settings, Store(settings.store_url), runner=lambda _: pytest.fail("no runs"))
    server = uvicorn.Server(uvicorn.Config(create_app(portal), log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "the web app did not start"
        time.sleep(0.02)
    try:
        yield url
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


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


def test_an_issued_credential_verifies_with_exit_0(tmp_path: Path, issued: Path) -> None:
    result = prodproven(tmp_path, "credential", "verify", str(issued), "--json")
    assert result.returncode == 0, result.stdout
    assert json.loads(result.stdout)["ok"] is True


def test_verifying_offline_says_plainly_that_revocation_was_not_checked(
    tmp_path: Path, issued: Path
) -> None:
    result = prodproven(tmp_path, "credential", "verify", str(issued), "--json")
    revocation = checks(json.loads(result.stdout))["revocation"]
    assert result.returncode == 0 and revocation["ok"] and revocation["warning"]
    assert revocation["detail"].startswith(
        f"revocation not checked: {OFFLINE}/credentials/status/revocation unreachable ("
    )
    table = prodproven(tmp_path, "credential", "verify", str(issued)).stdout
    assert "warning" in table and "is valid" in table


def test_a_revoked_credential_fails_through_the_status_list_the_web_app_serves(
    tmp_path: Path, graded: str
) -> None:
    credential = tmp_path / "grace.json"
    elsewhere = tmp_path / "verifier"  # another installation: knows nothing of the revocation
    with serving(tmp_path) as url:
        issued = prodproven(
            tmp_path, "credential", "issue", graded, "--out", str(credential), public_url=url
        )
        assert issued.returncode == 0, issued.stderr
        before = prodproven(elsewhere, "credential", "verify", str(credential), "--json")
        assert checks(json.loads(before.stdout))["revocation"]["detail"].startswith(
            f"not revoked: bit 0 of the issuer's status list {url}/credentials/status/revocation"
        )
        credential_id = json.loads(credential.read_text())["id"]
        revoke = prodproven(
            tmp_path, "credential", "revoke", credential_id, "--reason", "shared the workspace"
        )
        assert revoke.returncode == 0, revoke.stderr
        after = prodproven(elsewhere, "credential", "verify", str(credential), "--json")
    revocation = checks(json.loads(after.stdout))["revocation"]
    assert after.returncode == 1 and not revocation["ok"], revocation
    assert revocation["detail"].startswith("revoked: bit 0 of the issuer's status list"), revocation


def test_status_writes_the_signed_list_for_static_hosting(tmp_path: Path, issued: Path) -> None:
    out = tmp_path / "revocation.json"
    result = prodproven(tmp_path, "credential", "status", "--out", str(out))
    assert result.returncode == 0, result.stderr
    listed = json.loads(out.read_text())
    assert listed["id"] == f"{OFFLINE}/credentials/status/revocation"
    assert listed["type"] == ["VerifiableCredential", "BitstringStatusListCredential"]
    assert listed["issuer"] == json.loads(issued.read_text())["issuer"]["id"]


def test_a_tampered_credential_exits_1_naming_the_signature(tmp_path: Path, issued: Path) -> None:
    document = json.loads(issued.read_text())
    document["validUntil"] = "2099-12-31T00:00:00Z"
    issued.write_text(json.dumps(document))
    result = prodproven(tmp_path, "credential", "verify", str(issued))
    assert result.returncode == 1
    assert "signature" in result.stdout and "FAILED" in result.stdout


def test_a_revoked_credential_verifies_as_revoked(tmp_path: Path, issued: Path) -> None:
    credential_id = json.loads(issued.read_text())["id"]
    revoke = prodproven(
        tmp_path, "credential", "revoke", credential_id, "--reason", "shared the workspace"
    )
    assert revoke.returncode == 0, revoke.stderr
    verdict = json.loads(prodproven(tmp_path, "credential", "verify", str(issued), "--json").stdout)
    status = next(c for c in verdict["checks"] if c["name"] == "status")
    assert not status["ok"] and "shared the workspace" in status["detail"]


def test_a_file_that_is_not_json_is_one_message(tmp_path: Path) -> None:
    junk = tmp_path / "junk.json"
    junk.write_text("not json")
    result = prodproven(tmp_path, "credential", "verify", str(junk))
    message = " ".join(result.stderr.split())  # rich wraps long paths at 80 columns
    assert result.returncode == 1 and "is not a JSON credential" in message
    assert "Traceback" not in result.stderr
