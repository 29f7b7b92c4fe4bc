"""The accounts desk (runner/portal/people.py): sign-in is throttled and locked alike for known
and unknown emails, only the operator changes accounts, and every such change is audited."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from prodproven.runner.config import Settings
from prodproven.runner.errors import AccessDenied, ScopeDenied, SignInThrottled
from prodproven.runner.portal.core import Portal
from prodproven.runner.portal.people import AccountDesk
from prodproven.runner.runs.store import Store
from tests.unit.fakes import FakeRunner, as_runner
from tests.unit.portalsupport import ADA, CLI
from tests.unit.test_throttle import Clock

EMAIL = "ada@a.example"
PASSWORD = "correct horse battery"
HOME = "192.0.2.1"


@pytest.fixture
def desk(portal: Portal) -> AccountDesk:
    portal.accounts.add_assessor(EMAIL, "Ada", "firm-a", PASSWORD)
    return portal.accounts


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    return Clock(monkeypatch)


def answers(
    desk: AccountDesk, clock: Clock, email: str, tries: int, address: str = HOME
) -> list[str]:
    """What ``tries`` wrong passwords for ``email`` from ``address`` are told, each sent when
    the last answer said it could be (a patient guesser)."""
    told = []
    for _ in range(tries):
        try:
            desk.sign_in(email, "not the password", address)
        except SignInThrottled as refused:
            told.append(str(refused))
            clock.advance(refused.retry_after or 0)
        except AccessDenied as refused:
            told.append(str(refused))
    return told


def actions(portal: Portal) -> list[str]:
    return [e.action for e in reversed(portal.records.audit.entries())]


def test_forty_wrong_passwords_then_the_right_one_is_refused_because_the_account_locked(
    desk: AccountDesk, clock: Clock
) -> None:
    told = answers(desk, clock, EMAIL, 40)
    assert told.count("wrong email or password") == 10
    assert told[-1].startswith("too many attempts: sign-in to this account is locked")
    with pytest.raises(SignInThrottled, match="locked") as refused:
        desk.sign_in(EMAIL, PASSWORD, "198.51.100.7")
    assert refused.value.retry_after is None


def test_an_unknown_email_gets_the_same_answers_as_a_known_one(
    desk: AccountDesk, monkeypatch: pytest.MonkeyPatch
) -> None:
    known = answers(desk, Clock(monkeypatch), EMAIL, 14)
    unknown = answers(desk, Clock(monkeypatch), "nobody@a.example", 14, "198.51.100.7")
    assert unknown == known


def test_a_lockout_and_its_unlock_by_the_operator_are_audited(
    portal: Portal, desk: AccountDesk, clock: Clock
) -> None:
    answers(desk, clock, EMAIL, 15)
    assert actions(portal).count("login.locked") == 1
    assert desk.unlock(CLI, EMAIL)
    [unlocked] = portal.records.audit.entries()[:1]
    assert (unlocked.actor, unlocked.action, unlocked.data["email"]) == (
        CLI.label,
        "assessor.unlocked",
        EMAIL,
    )
    person, _ = desk.sign_in(EMAIL, PASSWORD, "198.51.100.7")
    assert person.email == EMAIL


def test_a_successful_sign_in_starts_the_accounts_count_afresh(
    desk: AccountDesk, clock: Clock
) -> None:
    answers(desk, clock, EMAIL, 9)
    clock.advance(900)
    desk.sign_in(EMAIL, PASSWORD, "198.51.100.7")
    fresh = answers(desk, clock, EMAIL, 5, "203.0.113.5")
    assert fresh == ["wrong email or password"] * 5


def test_only_the_operator_may_unlock_remove_or_set_a_password(desk: AccountDesk) -> None:
    with pytest.raises(ScopeDenied):
        desk.unlock(ADA, EMAIL)
    with pytest.raises(ScopeDenied):
        desk.remove(ADA, EMAIL)
    with pytest.raises(ScopeDenied):
        desk.set_password(ADA, EMAIL, "a brand new password")


def test_a_password_change_signs_the_assessor_out_and_is_audited(
    portal: Portal, desk: AccountDesk
) -> None:
    _, cookie = desk.sign_in(EMAIL, PASSWORD, HOME)
    assert desk.set_password(CLI, EMAIL, "a brand new password") == 1
    with pytest.raises(AccessDenied):
        desk.assessor_session(cookie)
    assert actions(portal)[-1] == "assessor.password"


def test_removing_an_assessor_and_revoking_a_token_are_audited(
    portal: Portal, desk: AccountDesk
) -> None:
    token, _ = desk.create_token(EMAIL, "ci", ("read",))
    assert desk.revoke_token(CLI, token.id).revoked
    removed = desk.remove(CLI, EMAIL)
    assert removed.tokens == 1
    revoked, gone = portal.records.audit.entries()[1::-1]
    assert (revoked.action, revoked.data) == ("token.revoked", {"token": token.id, "email": EMAIL})
    assert (gone.action, gone.data) == ("assessor.removed", {"email": EMAIL, "firm": "firm-a"})


def test_new_tokens_last_as_long_as_the_token_days_setting(tmp_path: Path, store: Store) -> None:
    settings = Settings.from_env({"PRODPROVEN_TOKEN_DAYS": "30"}, data_dir=tmp_path)
    portal = Portal(settings, store, lambda _: as_runner(FakeRunner(store, settings.data_dir)))
    portal.accounts.add_assessor(EMAIL, "Ada", "firm-a", PASSWORD)
    token, _ = portal.accounts.create_token(EMAIL, "ci", ("read",))
    assert token.expires_at - token.created_at == timedelta(days=30)
    longer, _ = portal.accounts.create_token(EMAIL, "ci", ("read",), days=365)
    assert longer.expires_at - longer.created_at == timedelta(days=365)
