"""The commands for people: assessors, tokens, invitations and the HTML report, as a script
would run them."""

from __future__ import annotations

import json
import subprocess
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from prodproven.runner.cli.people import server_options
from prodproven.runner.config import Settings
from prodproven.runner.errors import AccessDenied
from prodproven.runner.people.accounts import Accounts
from prodproven.runner.people.audit import Audit
from prodproven.runner.people.throttle import SignInCounterRow, Throttle
from prodproven.runner.runs.store import Status, Store, utcnow
from tests.unit.fakes import FIXTURES
from tests.unit.test_cli import prodproven

PASSWORD = "correct horse battery"


def add_assessor(data: Path, password: str = PASSWORD) -> subprocess.CompletedProcess[str]:
    return prodproven(
        "assessor", "add", "ada@acme.test", "--firm", "acme", "--password-stdin",
        env_dir=data, stdin=password + "\n",
    )  # fmt: skip


def graded_run(data: Path) -> str:
    store = Store(f"sqlite:///{data / 'prodproven.db'}")
    run = store.create_run(
        challenge_id="deploy-model",
        challenge_version="1.0.0",
        challenge_path="/challenges/deploy-model",
        candidate="Ada",
        mode="scripted",
    )
    document = json.loads((FIXTURES / "deploy-model.json").read_text())
    for status in (Status.provisioning, Status.running, Status.submitted, Status.grading):
        store.transition(run.id, status)
    store.transition(
        run.id, Status.graded, score=document["score"], result=document, graded_at=utcnow()
    )
    return run.id


def test_an_assessor_is_added_with_a_password_from_stdin(tmp_path: Path) -> None:
    assert add_assessor(tmp_path).returncode == 0
    listed = json.loads(prodproven("assessor", "list", "--json", env_dir=tmp_path).stdout)
    assert listed == [{"id": 1, "email": "ada@acme.test", "name": "ada@acme.test", "firm": "acme"}]


def test_a_short_password_is_refused_with_one_message(tmp_path: Path) -> None:
    proc = add_assessor(tmp_path, password="short")
    assert proc.returncode == 1
    assert "at least 10 characters" in proc.stderr and "Traceback" not in proc.stderr


def test_a_token_is_printed_once_for_the_asked_scopes(tmp_path: Path) -> None:
    add_assessor(tmp_path)
    proc = prodproven("assessor", "token", "ada@acme.test", "--scope", "read", env_dir=tmp_path)
    assert proc.returncode == 0
    secret = proc.stdout.strip().splitlines()[-1]
    assert secret.startswith("ppt_")
    assert secret not in (tmp_path / "prodproven.db").read_bytes().decode("latin-1")


def test_invite_prints_a_single_use_link(tmp_path: Path) -> None:
    proc = prodproven(
        "invite", "deploy-model", "--name", "Cleo", "--email", "cleo@x.test", "--json",
        env_dir=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    invitation = json.loads(proc.stdout)
    assert invitation["link"].startswith("http://127.0.0.1:8080/i/")
    assert invitation["challenge"] == "deploy-model"


def test_invite_grants_extra_time_on_the_invitation(tmp_path: Path) -> None:
    proc = prodproven(
        "invite", "deploy-model", "--name", "Cleo", "--email", "cleo@x.test",
        "--extra-minutes", "30", "--json", env_dir=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["extra_time"] == "+30 min"


def test_invite_refuses_extra_minutes_and_percent_at_once(tmp_path: Path) -> None:
    proc = prodproven(
        "invite", "deploy-model", "--name", "Cleo", "--email", "cleo@x.test",
        "--extra-minutes", "30", "--extra-percent", "10", env_dir=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 1 and "not both" in proc.stderr


def test_invite_to_an_unknown_challenge_names_it(tmp_path: Path) -> None:
    proc = prodproven("invite", "nope", "--name", "C", "--email", "c@x.test", env_dir=tmp_path)
    assert proc.returncode == 1 and "nope" in proc.stderr


def test_report_writes_a_self_contained_html_file(tmp_path: Path) -> None:
    run_id = graded_run(tmp_path)
    out = tmp_path / "report.html"
    proc = prodproven("report", run_id, "--out", str(out), env_dir=tmp_path)
    assert proc.returncode == 0, proc.stderr
    html = out.read_text()
    assert html.startswith("<!doctype html>") and "<svg" in html and "<style>" in html
    assert "<script" not in html and 'href="/static' not in html


def test_report_of_an_unknown_run_is_one_message(tmp_path: Path) -> None:
    proc = prodproven("report", "nope", "--out", str(tmp_path / "r.html"), env_dir=tmp_path)
    assert proc.returncode == 1 and "no run 'nope'" in proc.stderr


def store_of(data: Path) -> Store:
    return Store(f"sqlite:///{data / 'prodproven.db'}")


def test_passwd_ends_the_assessors_web_sessions_and_says_so(tmp_path: Path) -> None:
    add_assessor(tmp_path)
    accounts = Accounts(store_of(tmp_path))
    cookie, _ = accounts.open_session("assessor", "1", timedelta(hours=1))
    proc = prodproven(
        "assessor", "passwd", "ada@acme.test", "--password-stdin",
        env_dir=tmp_path, stdin="a brand new password\n",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "1 web session(s) ended" in proc.stdout
    with pytest.raises(AccessDenied):
        accounts.session(cookie, "assessor")


def test_assessor_remove_ends_their_tokens_and_is_audited(tmp_path: Path) -> None:
    add_assessor(tmp_path)
    prodproven("assessor", "token", "ada@acme.test", env_dir=tmp_path)
    proc = prodproven("assessor", "remove", "ada@acme.test", "--json", env_dir=tmp_path)
    assert proc.returncode == 0, proc.stderr
    removed = json.loads(proc.stdout)
    assert (removed["assessor"]["email"], removed["tokens"]) == ("ada@acme.test", 1)
    assert json.loads(prodproven("assessor", "list", "--json", env_dir=tmp_path).stdout) == []
    [entry] = [e for e in Audit(store_of(tmp_path)).entries() if e.action == "assessor.removed"]
    assert entry.data == {"email": "ada@acme.test", "firm": "acme"}


def test_assessor_unlock_lifts_a_lockout_and_is_audited(tmp_path: Path) -> None:
    add_assessor(tmp_path)
    store = store_of(tmp_path)
    with store.session() as s:
        s.add(
            SignInCounterRow(
                key="account:ada@acme.test", failures=10, last_at=utcnow(), locked_at=utcnow()
            )
        )
    proc = prodproven("assessor", "unlock", "ada@acme.test", "--json", env_dir=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == {"email": "ada@acme.test", "was_locked": True}
    Throttle(store).admit("ada@acme.test", "192.0.2.1")
    assert Audit(store).entries()[0].action == "assessor.unlocked"


def test_assessor_tokens_lists_expiry_and_state_but_never_the_secret(tmp_path: Path) -> None:
    add_assessor(tmp_path)
    made = prodproven("assessor", "token", "ada@acme.test", "--days", "30", env_dir=tmp_path)
    secret = made.stdout.strip().splitlines()[-1]
    assert prodproven("assessor", "revoke-token", "1", env_dir=tmp_path).returncode == 0
    proc = prodproven("assessor", "tokens", "ada@acme.test", "--json", env_dir=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert secret.startswith("ppt_") and secret not in proc.stdout
    [token] = json.loads(proc.stdout)
    made_at, expires = (datetime.fromisoformat(token[k]) for k in ("created_at", "expires_at"))
    assert (token["id"], token["state"], expires - made_at) == (1, "revoked", timedelta(days=30))
    assert Audit(store_of(tmp_path)).entries()[0].action == "token.revoked"


def test_a_token_lifetime_of_zero_days_is_refused_with_one_message(tmp_path: Path) -> None:
    add_assessor(tmp_path)
    proc = prodproven("assessor", "token", "ada@acme.test", "--days", "0", env_dir=tmp_path)
    assert proc.returncode == 2 and "--days" in proc.stderr and "Traceback" not in proc.stderr


def test_serve_believes_forwarded_headers_only_from_the_trusted_proxies(tmp_path: Path) -> None:
    alone = server_options(Settings.from_env({}, data_dir=tmp_path))
    assert alone["proxy_headers"] is False and "forwarded_allow_ips" not in alone
    env = {"PRODPROVEN_TRUSTED_PROXIES": "10.0.0.5"}
    behind = server_options(Settings.from_env(env, data_dir=tmp_path))
    assert behind["proxy_headers"] is True and behind["forwarded_allow_ips"] == "10.0.0.5"
