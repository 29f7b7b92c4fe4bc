"""Assessors and their credentials: passwords are argon2 hashes, API tokens and session cookies
are stored only as SHA-256 digests, and every failed sign-in says the same thing."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from datetime import timedelta

import pytest
from sqlalchemy import select

from prodproven.runner.errors import AccessDenied, AccountError, UntrustedInput
from prodproven.runner.people.accounts import (
    Accounts,
    ApiTokenRow,
    Assessor,
    AssessorRow,
    WebSession,
    WebSessionRow,
    csrf_matches,
)
from prodproven.runner.runs.store import Store, utcnow

PASSWORD = "correct horse battery"


@pytest.fixture
def accounts(store: Store) -> Accounts:
    return Accounts(store)


@pytest.fixture
def ada(accounts: Accounts) -> Assessor:
    return accounts.add_assessor("ada@firm.example", "Ada", "firm-a", PASSWORD)


def assessor_row(store: Store, email: str) -> AssessorRow:
    with store.session() as s:
        row = s.scalar(select(AssessorRow).where(AssessorRow.email == email))
        assert row is not None
        return row


# passwords ------------------------------------------------------------------------------------
def test_a_password_is_stored_as_an_argon2_hash_not_in_clear(
    store: Store, accounts: Accounts, ada: Assessor
) -> None:
    stored = assessor_row(store, "ada@firm.example").password_hash
    assert stored.startswith("$argon2")
    assert PASSWORD not in stored


def test_the_right_password_authenticates_the_assessor(accounts: Accounts, ada: Assessor) -> None:
    assert accounts.authenticate("ada@firm.example", PASSWORD) == ada


def test_a_wrong_password_and_an_unknown_email_are_refused_alike(
    accounts: Accounts, ada: Assessor
) -> None:
    with pytest.raises(AccessDenied) as wrong_password:
        accounts.authenticate("ada@firm.example", "not the password at all")
    with pytest.raises(AccessDenied) as unknown_email:
        accounts.authenticate("nobody@firm.example", PASSWORD)
    assert str(wrong_password.value) == str(unknown_email.value)
    assert "email or password" in str(wrong_password.value)


def test_a_short_password_is_refused(accounts: Accounts) -> None:
    with pytest.raises(AccountError, match="at least 10 characters"):
        accounts.add_assessor("ada@firm.example", "Ada", "firm-a", "short")


def test_a_malformed_email_is_refused(accounts: Accounts) -> None:
    with pytest.raises(AccountError, match="not an email address"):
        accounts.add_assessor("ada.firm.example", "Ada", "firm-a", PASSWORD)


def test_an_assessor_without_a_firm_is_refused(accounts: Accounts) -> None:
    with pytest.raises(AccountError, match="firm"):
        accounts.add_assessor("ada@firm.example", "Ada", "  ", PASSWORD)


def test_a_taken_email_is_refused(accounts: Accounts, ada: Assessor) -> None:
    with pytest.raises(AccountError, match="already exists"):
        accounts.add_assessor("ada@firm.example", "Another Ada", "firm-b", PASSWORD)


def test_emails_are_case_insensitive(accounts: Accounts, ada: Assessor) -> None:
    assert accounts.authenticate("  ADA@Firm.Example ", PASSWORD) == ada
    with pytest.raises(AccountError, match="already exists"):
        accounts.add_assessor("Ada@FIRM.example", "Ada again", "firm-a", PASSWORD)


def test_set_password_replaces_the_old_one(accounts: Accounts, ada: Assessor) -> None:
    accounts.set_password("ada@firm.example", "a brand new password")
    assert accounts.authenticate("ada@firm.example", "a brand new password") == ada
    with pytest.raises(AccessDenied):
        accounts.authenticate("ada@firm.example", PASSWORD)


def test_assessors_are_listed_by_firm(accounts: Accounts, ada: Assessor) -> None:
    bob = accounts.add_assessor("bob@other.example", "Bob", "firm-b", PASSWORD)
    assert accounts.assessors() == [ada, bob]
    assert accounts.assessors(firm="firm-b") == [bob]


# API tokens -----------------------------------------------------------------------------------
def test_a_token_secret_is_returned_once_and_only_its_sha256_is_stored(
    store: Store, accounts: Accounts, ada: Assessor
) -> None:
    token, secret = accounts.create_token("ada@firm.example", "ci", ("read",))
    with store.session() as s:
        row = s.get(ApiTokenRow, token.id)
        assert row is not None
        stored = [str(getattr(row, c.name)) for c in ApiTokenRow.__table__.columns]
    assert row.digest == hashlib.sha256(secret.encode()).hexdigest()
    assert all(secret not in value for value in stored)
    assert all(secret not in repr(t) for t in accounts.tokens("ada@firm.example"))


def test_a_token_authenticates_with_its_scopes_and_owner(accounts: Accounts, ada: Assessor) -> None:
    _, secret = accounts.create_token("ada@firm.example", "ci", ("review", "read"))
    token = accounts.token(secret)
    assert token.assessor == ada
    assert token.scopes == ("read", "review")
    assert not token.revoked


def test_using_a_token_records_when_it_was_last_used(accounts: Accounts, ada: Assessor) -> None:
    created, secret = accounts.create_token("ada@firm.example", "ci", ("read",))
    assert created.last_used_at is None
    before = utcnow()
    first = accounts.token(secret)
    assert first.last_used_at is not None and first.last_used_at >= before
    second = accounts.token(secret)
    assert second.last_used_at is not None and second.last_used_at >= first.last_used_at
    [listed] = accounts.tokens("ada@firm.example")
    assert listed.last_used_at == second.last_used_at


def test_a_revoked_token_is_refused(accounts: Accounts, ada: Assessor) -> None:
    token, secret = accounts.create_token("ada@firm.example", "ci", ("read",))
    accounts.revoke_token(token.id)
    with pytest.raises(AccessDenied, match="revoked"):
        accounts.token(secret)
    assert accounts.tokens("ada@firm.example")[0].revoked


def test_an_unknown_token_is_refused(accounts: Accounts, ada: Assessor) -> None:
    accounts.create_token("ada@firm.example", "ci", ("read",))
    with pytest.raises(AccessDenied):
        accounts.token("ppt_not-a-token")


def test_an_unknown_scope_is_refused(accounts: Accounts, ada: Assessor) -> None:
    with pytest.raises(AccountError, match="admin"):
        accounts.create_token("ada@firm.example", "ci", ("read", "admin"))


def test_a_token_without_scopes_is_refused(accounts: Accounts, ada: Assessor) -> None:
    with pytest.raises(AccountError):
        accounts.create_token("ada@firm.example", "ci", ())


def test_a_token_for_an_unknown_assessor_is_refused(accounts: Accounts) -> None:
    with pytest.raises(AccountError, match="no assessor"):
        accounts.create_token("nobody@firm.example", "ci", ("read",))


# browser sessions -----------------------------------------------------------------------------
def test_an_open_session_is_found_by_its_cookie(accounts: Accounts) -> None:
    cookie, opened = accounts.open_session("assessor", "1", timedelta(hours=1))
    found = accounts.session(cookie, "assessor")
    assert found == opened
    assert (found.kind, found.subject) == ("assessor", "1")


def test_a_session_cookie_is_stored_only_as_its_sha256(store: Store, accounts: Accounts) -> None:
    cookie, _ = accounts.open_session("assessor", "1", timedelta(hours=1))
    with store.session() as s:
        [row] = s.scalars(select(WebSessionRow))
        assert row.digest == hashlib.sha256(cookie.encode()).hexdigest()
        assert cookie not in (row.subject, row.csrf)


def test_a_candidate_cookie_is_not_an_assessor_session(accounts: Accounts) -> None:
    cookie, _ = accounts.open_session("candidate", "inv123", timedelta(hours=1))
    with pytest.raises(AccessDenied):
        accounts.session(cookie, "assessor")


def test_an_expired_session_is_refused(accounts: Accounts) -> None:
    cookie, _ = accounts.open_session("assessor", "1", timedelta(0))
    with pytest.raises(AccessDenied, match="expired"):
        accounts.session(cookie, "assessor")


def test_an_unknown_cookie_is_refused(accounts: Accounts) -> None:
    with pytest.raises(AccessDenied):
        accounts.session("never-issued", "assessor")


def test_closing_a_session_signs_the_browser_out(accounts: Accounts) -> None:
    cookie, _ = accounts.open_session("assessor", "1", timedelta(hours=1))
    accounts.close_session(cookie)
    with pytest.raises(AccessDenied):
        accounts.session(cookie, "assessor")
    accounts.close_session(cookie)  # closing twice is harmless


def test_each_session_has_its_own_csrf_secret(accounts: Accounts) -> None:
    _, first = accounts.open_session("assessor", "1", timedelta(hours=1))
    _, second = accounts.open_session("assessor", "1", timedelta(hours=1))
    assert first.csrf != second.csrf
    assert len(first.csrf) >= 32


# CSRF -----------------------------------------------------------------------------------------
def session_with_csrf(csrf: str) -> WebSession:
    return WebSession("assessor", "1", csrf, utcnow() + timedelta(hours=1))


def test_csrf_matches_only_the_sessions_own_secret() -> None:
    session = session_with_csrf("s3cret-value")
    assert csrf_matches(session, "s3cret-value")
    assert not csrf_matches(session, "s3cret-valuE")
    assert not csrf_matches(session, "")
    assert not csrf_matches(session, None)


def test_opening_a_session_deletes_expired_ones(accounts: Accounts) -> None:
    from prodproven.runner.people.accounts import WebSessionRow

    accounts.open_session("assessor", "1", timedelta(seconds=-1))
    accounts.open_session("assessor", "2", timedelta(hours=1))
    with accounts.store.session() as s:
        assert [row.subject for row in s.query(WebSessionRow)] == ["2"]


# ending sessions and removing assessors -------------------------------------------------------
def test_a_password_change_ends_all_of_that_assessors_web_sessions(
    accounts: Accounts, ada: Assessor
) -> None:
    mine = [accounts.open_session("assessor", str(ada.id), timedelta(hours=1))[0] for _ in "ab"]
    theirs, _ = accounts.open_session("assessor", str(ada.id + 1), timedelta(hours=1))
    assert accounts.set_password("ada@firm.example", "a brand new password") == 2
    for cookie in mine:
        with pytest.raises(AccessDenied):
            accounts.session(cookie, "assessor")
    assert accounts.session(theirs, "assessor").subject == str(ada.id + 1)


def test_removing_an_assessor_ends_their_tokens_and_sessions(
    accounts: Accounts, ada: Assessor
) -> None:
    _, secret = accounts.create_token("ada@firm.example", "ci", ("read",))
    cookie, _ = accounts.open_session("assessor", str(ada.id), timedelta(hours=1))
    removed = accounts.remove_assessor("ADA@firm.example")
    assert (removed.assessor, removed.tokens, removed.sessions) == (ada, 1, 1)
    assert accounts.assessors() == []
    with pytest.raises(AccessDenied):
        accounts.token(secret)
    with pytest.raises(AccessDenied):
        accounts.session(cookie, "assessor")
    with pytest.raises(AccountError, match="no assessor"):
        accounts.remove_assessor("ada@firm.example")


# token expiry ---------------------------------------------------------------------------------
def test_a_token_expires_90_days_after_it_is_made_by_default(
    accounts: Accounts, ada: Assessor
) -> None:
    token, _ = accounts.create_token("ada@firm.example", "ci", ("read",))
    assert token.expires_at - token.created_at == timedelta(days=90)
    assert token.state(utcnow()) == "live"


def test_an_expired_token_is_refused_saying_it_expired(
    store: Store, accounts: Accounts, ada: Assessor
) -> None:
    token, secret = accounts.create_token("ada@firm.example", "ci", ("read",), days=1)
    with store.session() as s:
        row = s.get(ApiTokenRow, token.id)
        assert row is not None
        row.expires_at = utcnow() - timedelta(seconds=1)
    with pytest.raises(AccessDenied, match="expired"):
        accounts.token(secret)
    [listed] = accounts.tokens("ada@firm.example")
    assert listed.state(utcnow()) == "expired" and listed.last_used_at is None


def test_a_token_of_an_older_store_expires_90_days_after_it_was_made(
    store: Store, accounts: Accounts, ada: Assessor
) -> None:
    token, secret = accounts.create_token("ada@firm.example", "ci", ("read",))
    with store.session() as s:
        row = s.get(ApiTokenRow, token.id)
        assert row is not None
        row.expires_at = None
        row.created_at = utcnow() - timedelta(days=91)
    with pytest.raises(AccessDenied, match="expired"):
        accounts.token(secret)


@pytest.mark.parametrize("days", [0, -1, 3651, float("nan"), float("inf")])
def test_a_token_lifetime_outside_1_to_3650_days_is_refused(
    accounts: Accounts, ada: Assessor, days: float
) -> None:
    with pytest.raises(UntrustedInput, match="token lifetime"):
        accounts.create_token("ada@firm.example", "ci", ("read",), days=days)
    assert accounts.tokens("ada@firm.example") == []


def test_tokens_are_listed_oldest_first_with_their_state(accounts: Accounts, ada: Assessor) -> None:
    first, _ = accounts.create_token("ada@firm.example", "one", ("read",), days=7)
    second, _ = accounts.create_token("ada@firm.example", "two", ("read",))
    assert accounts.revoke_token(second.id).revoked
    listed = accounts.tokens("ada@firm.example")
    assert [(t.name, t.state(utcnow())) for t in listed] == [("one", "live"), ("two", "revoked")]
    assert listed[0].expires_at == first.expires_at


# no hashing before it is needed ---------------------------------------------------------------
HASHES_DURING_IMPORT = """
import argon2
calls = []
original = argon2.PasswordHasher.hash
argon2.PasswordHasher.hash = lambda self, *a, **k: calls.append(1) or original(self, *a, **k)
from click.testing import CliRunner
from prodproven.runner.cli.main import cli
assert CliRunner().invoke(cli, ["--help"]).exit_code == 0
print(len(calls))
"""


def test_importing_the_cli_and_asking_for_help_computes_no_password_hash() -> None:
    done = subprocess.run(
        [sys.executable, "-c", HASHES_DURING_IMPORT], capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "0"
