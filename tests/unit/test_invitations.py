"""Invitations: a single-use link per candidate, stored only as its SHA-256; used once, never
after it expired or was revoked; the run started from it belongs to the inviting firm."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from typing import Any

import pytest

from prodproven.runner.errors import AccessDenied, InvitationError
from prodproven.runner.people import invitations as invitations_module
from prodproven.runner.people.invitations import (
    Accommodation,
    Invitation,
    InvitationRow,
    Invitations,
)
from prodproven.runner.runs.store import Store, utcnow


@pytest.fixture
def invitations(store: Store) -> Invitations:
    return Invitations(store)


def invite(invitations: Invitations, **changes: Any) -> tuple[Invitation, str]:
    fields: dict[str, Any] = {
        "firm": "firm-a",
        "challenge_id": "deploy-model",
        "candidate_name": "Grace Hopper",
        "candidate_email": "grace@example.org",
        "created_by": "ada@firm.example",
        "lifetime": timedelta(days=7),
        **changes,
    }
    return invitations.create(**fields)


def a_run(store: Store) -> str:
    return store.create_run(
        challenge_id="deploy-model",
        challenge_version="1.0.0",
        challenge_path="/c",
        candidate="Grace Hopper",
        mode="interactive",
    ).id


def later(monkeypatch: pytest.MonkeyPatch, delta: timedelta) -> None:
    """Move the invitations' clock ``delta`` into the future."""
    now = utcnow()
    monkeypatch.setattr(invitations_module, "utcnow", lambda: now + delta)


# create ---------------------------------------------------------------------------------------
def test_an_invitation_records_who_invited_whom_to_what(invitations: Invitations) -> None:
    invitation, _ = invite(invitations, candidate_email=" Grace@Example.ORG ", variant=3)
    assert invitation.firm == "firm-a"
    assert invitation.challenge_id == "deploy-model"
    assert invitation.candidate_name == "Grace Hopper"
    assert invitation.candidate_email == "grace@example.org"
    assert invitation.created_by == "ada@firm.example"
    assert invitation.variant == 3
    assert invitation.expires_at - invitation.created_at == timedelta(days=7)
    assert invitations.get(invitation.id) == invitation


def test_an_invitation_without_a_candidate_name_is_refused(invitations: Invitations) -> None:
    with pytest.raises(InvitationError, match="name"):
        invite(invitations, candidate_name="   ")


def test_an_invitation_with_a_malformed_email_is_refused(invitations: Invitations) -> None:
    with pytest.raises(InvitationError, match="not an email address"):
        invite(invitations, candidate_email="grace.example.org")


@pytest.mark.parametrize("lifetime", [timedelta(minutes=4), timedelta(days=91), timedelta(0)])
def test_an_invitation_lifetime_outside_5_minutes_to_90_days_is_refused(
    invitations: Invitations, lifetime: timedelta
) -> None:
    with pytest.raises(InvitationError, match="valid between"):
        invite(invitations, lifetime=lifetime)


# accommodations ------------------------------------------------------------------------------
def test_an_invitation_records_the_extra_time_it_grants(invitations: Invitations) -> None:
    minutes, _ = invite(invitations, accommodation=Accommodation(minutes=30))
    percent, _ = invite(invitations, accommodation=Accommodation(percent=25))
    plain, _ = invite(invitations)
    assert invitations.get(minutes.id).accommodation == Accommodation(minutes=30)
    assert invitations.get(percent.id).accommodation == Accommodation(percent=25)
    assert not invitations.get(plain.id).accommodation


def test_extra_time_is_minutes_or_a_share_of_the_time_limit() -> None:
    limit = timedelta(minutes=60)
    assert Accommodation(minutes=30).extra(limit) == timedelta(minutes=30)
    assert Accommodation(percent=25).extra(limit) == timedelta(minutes=15)
    assert Accommodation().extra(limit) == timedelta()
    assert [a.describe() for a in (Accommodation(30), Accommodation(0, 25), Accommodation())] == [
        "+30 min",
        "+25 %",
        "none",
    ]


@pytest.mark.parametrize(
    ("minutes", "percent", "problem"),
    [(30, 25, "not both"), (-1, 0, "0 to 600 minutes"), (0, 201, "0 to 200 percent")],
)
def test_extra_time_out_of_range_or_given_twice_is_refused(
    minutes: int, percent: int, problem: str
) -> None:
    with pytest.raises(InvitationError, match=problem):
        Accommodation(minutes, percent)


def test_the_link_token_is_not_stored_in_clear(store: Store, invitations: Invitations) -> None:
    invitation, token = invite(invitations)
    with store.session() as s:
        row = s.get(InvitationRow, invitation.id)
        assert row is not None
        stored = [str(getattr(row, c.name)) for c in InvitationRow.__table__.columns]
        assert row.digest == hashlib.sha256(token.encode()).hexdigest()
    assert all(token not in value for value in stored)


def test_a_random_variant_is_assigned_when_none_is_given(invitations: Invitations) -> None:
    variants = {invite(invitations)[0].variant for _ in range(5)}
    assert None not in variants
    assert all(isinstance(v, int) and 0 <= v < 10_000 for v in variants)
    assert len(variants) > 1


@pytest.mark.parametrize("variant", [-1, 2**31, 10**20])
def test_a_variant_out_of_range_is_refused_before_anything_is_stored(
    store: Store, invitations: Invitations, variant: int
) -> None:
    with pytest.raises(InvitationError, match="variant"):
        invite(invitations, variant=variant)
    assert invitations.list() == []


@pytest.mark.parametrize(
    ("field", "value"),
    [("candidate_name", "G" * 201), ("candidate_email", "g" * 250 + "@example.org")],
)
def test_a_name_or_email_over_its_size_is_refused(
    invitations: Invitations, field: str, value: str
) -> None:
    with pytest.raises(InvitationError, match="at most|not an email"):
        invite(invitations, **{field: value})
    assert invitations.list() == []


# redeem ---------------------------------------------------------------------------------------
def test_checking_a_link_redeems_nothing_and_refuses_what_redeem_refuses(
    invitations: Invitations,
) -> None:
    invitation, token = invite(invitations)
    assert invitations.check(token).id == invitation.id
    assert invitations.get(invitation.id).redeemed_at is None
    invitations.redeem(token)
    with pytest.raises(AccessDenied, match="already used"):
        invitations.check(token)
    with pytest.raises(AccessDenied, match="not valid"):
        invitations.check("not-a-token")


def test_a_link_is_redeemed_once(invitations: Invitations) -> None:
    invitation, token = invite(invitations)
    redeemed = invitations.redeem(token)
    assert redeemed.id == invitation.id
    assert redeemed.redeemed_at is not None


def test_a_second_redeem_of_the_same_link_is_refused(invitations: Invitations) -> None:
    _, token = invite(invitations)
    invitations.redeem(token)
    with pytest.raises(AccessDenied, match="already used"):
        invitations.redeem(token)


def test_an_unknown_link_is_refused(invitations: Invitations) -> None:
    invite(invitations)
    with pytest.raises(AccessDenied, match="not valid"):
        invitations.redeem("not-a-token")


def test_an_expired_link_is_refused(
    monkeypatch: pytest.MonkeyPatch, invitations: Invitations
) -> None:
    _, token = invite(invitations, lifetime=timedelta(hours=1))
    later(monkeypatch, timedelta(hours=1, seconds=1))
    with pytest.raises(AccessDenied, match="expired"):
        invitations.redeem(token)


def test_an_expired_invitation_is_no_longer_usable(store: Store, invitations: Invitations) -> None:
    invitation, _ = invite(invitations)
    with store.session() as s:
        row = s.get(InvitationRow, invitation.id)
        assert row is not None
        row.expires_at = utcnow() - timedelta(seconds=1)
    with pytest.raises(AccessDenied, match="expired"):
        invitations.usable(invitation.id)


def test_a_revoked_link_is_refused(invitations: Invitations) -> None:
    invitation, token = invite(invitations)
    invitations.revoke(invitation.id)
    with pytest.raises(AccessDenied, match="revoked"):
        invitations.redeem(token)


def test_a_revoked_invitation_is_no_longer_usable_even_with_a_run(
    store: Store, invitations: Invitations
) -> None:
    invitation, _ = invite(invitations)
    invitations.attach_run(invitation.id, a_run(store))
    invitations.revoke(invitation.id)
    with pytest.raises(AccessDenied, match="revoked"):
        invitations.usable(invitation.id)


def test_an_invitation_with_a_run_stays_usable_after_it_expires(
    monkeypatch: pytest.MonkeyPatch, store: Store, invitations: Invitations
) -> None:
    invitation, _ = invite(invitations, lifetime=timedelta(hours=1))
    run_id = a_run(store)
    invitations.attach_run(invitation.id, run_id)
    later(monkeypatch, timedelta(days=2))
    assert invitations.usable(invitation.id).run_id == run_id


def test_find_has_no_side_effect(invitations: Invitations) -> None:
    invitation, token = invite(invitations)
    found = invitations.find(token)
    assert found == invitation
    assert found is not None and found.redeemed_at is None
    assert invitations.find(token) == invitation
    invitations.redeem(token)  # still redeemable: find did not use it
    assert invitations.find("not-a-token") is None


# state ----------------------------------------------------------------------------------------
def test_a_new_invitation_is_pending(invitations: Invitations) -> None:
    assert invite(invitations)[0].state == "pending"


def test_a_redeemed_invitation_is_opened(invitations: Invitations) -> None:
    invitation, token = invite(invitations)
    invitations.redeem(token)
    assert invitations.get(invitation.id).state == "opened"


def test_an_invitation_with_a_run_is_started(store: Store, invitations: Invitations) -> None:
    invitation, token = invite(invitations)
    invitations.redeem(token)
    invitations.attach_run(invitation.id, a_run(store))
    assert invitations.get(invitation.id).state == "started"


def test_a_revoked_invitation_is_revoked(store: Store, invitations: Invitations) -> None:
    invitation, _ = invite(invitations)
    invitations.attach_run(invitation.id, a_run(store))
    invitations.revoke(invitation.id)
    assert invitations.get(invitation.id).state == "revoked"


def test_an_unused_invitation_past_its_expiry_is_expired(
    monkeypatch: pytest.MonkeyPatch, invitations: Invitations
) -> None:
    invitation, token = invite(invitations, lifetime=timedelta(hours=1))
    invitations.redeem(token)
    later(monkeypatch, timedelta(hours=2))
    assert invitations.get(invitation.id).state == "expired"


# runs -----------------------------------------------------------------------------------------
def test_attach_run_records_the_run_and_is_idempotent(
    store: Store, invitations: Invitations
) -> None:
    invitation, _ = invite(invitations)
    run_id = a_run(store)
    invitations.attach_run(invitation.id, run_id)
    invitations.attach_run(invitation.id, run_id)
    assert invitations.get(invitation.id).run_id == run_id
    assert invitations.for_run(run_id) == invitations.get(invitation.id)


def test_attach_run_refuses_a_second_different_run(store: Store, invitations: Invitations) -> None:
    invitation, _ = invite(invitations)
    first = a_run(store)
    invitations.attach_run(invitation.id, first)
    with pytest.raises(InvitationError, match="already has run"):
        invitations.attach_run(invitation.id, a_run(store))
    assert invitations.get(invitation.id).run_id == first


def test_firm_of_runs_maps_each_invited_run_to_its_firm(
    store: Store, invitations: Invitations
) -> None:
    a, _ = invite(invitations, firm="firm-a")
    b, _ = invite(invitations, firm="firm-b")
    invite(invitations, firm="firm-c")  # no run yet
    run_a, run_b = a_run(store), a_run(store)
    invitations.attach_run(a.id, run_a)
    invitations.attach_run(b.id, run_b)
    assert invitations.firm_of_runs() == {run_a: "firm-a", run_b: "firm-b"}


def test_list_is_newest_first_and_filtered_by_firm(invitations: Invitations) -> None:
    first, _ = invite(invitations, firm="firm-a")
    other, _ = invite(invitations, firm="firm-b")
    last, _ = invite(invitations, firm="firm-a")
    assert [i.id for i in invitations.list()] == [last.id, other.id, first.id]
    assert [i.id for i in invitations.list(firm="firm-a")] == [last.id, first.id]


def test_an_unknown_invitation_is_an_invitation_error(invitations: Invitations) -> None:
    with pytest.raises(InvitationError):
        invitations.get("nope")
    with pytest.raises(InvitationError):
        invitations.revoke("nope")
    with pytest.raises(AccessDenied):
        invitations.usable("nope")
