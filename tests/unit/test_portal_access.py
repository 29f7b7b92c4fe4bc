"""The portal's access checks (runner/portal/access.py), whatever the facet: a run belongs to
the firm of its invitation, else to the installation's firm, and an actor never sees a run of
another firm; each operation needs its scope."""

from __future__ import annotations

import pytest

from prodproven.runner.errors import AccessDenied, RunNotFound, ScopeDenied
from prodproven.runner.portal.access import Actor
from prodproven.runner.portal.core import Portal
from tests.unit.portalsupport import ADA, BOB, CLI, REASON, ids, invitation_for, run_for


# firms ----------------------------------------------------------------------------------------
def test_an_assessor_never_sees_a_run_of_another_firm(portal: Portal) -> None:
    theirs = run_for(portal, "firm-b")
    with pytest.raises(RunNotFound):
        portal.runs.get(ADA, theirs.id)
    assert portal.runs.find(ADA) == []
    assert portal.runs.get(BOB, theirs.id) == theirs


def test_another_firms_run_looks_exactly_like_a_run_that_does_not_exist(portal: Portal) -> None:
    theirs = run_for(portal, "firm-b")
    with pytest.raises(RunNotFound) as hidden:
        portal.runs.get(ADA, theirs.id)
    with pytest.raises(RunNotFound) as missing:
        portal.runs.get(ADA, "0123456789")
    assert str(hidden.value) == str(missing.value).replace("0123456789", theirs.id)


def test_runs_lists_only_the_actors_firm(portal: Portal) -> None:
    ours = run_for(portal, "firm-a", "Grace")
    run_for(portal, "firm-b", "Linus")
    run_for(portal, None, "Ken")
    [summary] = portal.runs.find(ADA)
    assert (summary.run.id, summary.firm) == (ours.id, "firm-a")


def test_the_cli_operator_sees_the_runs_of_every_firm(portal: Portal) -> None:
    runs = [run_for(portal, "firm-a"), run_for(portal, "firm-b"), run_for(portal, None)]
    assert set(ids(portal.runs.find(CLI))) == {r.id for r in runs}
    for run in runs:
        assert portal.runs.get(CLI, run.id) == run


def test_runs_started_from_the_cli_belong_to_the_installations_firm(portal: Portal) -> None:
    run = run_for(portal, None)
    [summary] = portal.runs.find(CLI)
    assert summary.firm == portal.settings.firm == "default"
    assert portal.runs.get(Actor("dee@default.example", "default"), run.id) == run
    with pytest.raises(RunNotFound):
        portal.runs.get(ADA, run.id)


def test_a_note_or_override_on_another_firms_run_is_not_found(portal: Portal) -> None:
    theirs = run_for(portal, "firm-b", score=70.0)
    with pytest.raises(RunNotFound):
        portal.reviews.note(ADA, theirs.id, "looks fine")
    with pytest.raises(RunNotFound):
        portal.reviews.override(ADA, theirs.id, 90.0, REASON)
    assert portal.records.reviews.for_run(theirs.id) == []


def test_detail_of_another_firms_run_is_not_found(portal: Portal) -> None:
    theirs = run_for(portal, "firm-b", score=70.0)
    with pytest.raises(RunNotFound):
        portal.runs.detail(ADA, theirs.id)


# scopes ---------------------------------------------------------------------------------------
def test_a_token_without_the_review_scope_cannot_note_or_override(portal: Portal) -> None:
    run = run_for(portal, "firm-a", score=70.0)
    reader = Actor(ADA.label, "firm-a", ("read", "invite"))
    with pytest.raises(ScopeDenied, match="review"):
        portal.reviews.note(reader, run.id, "looks fine")
    with pytest.raises(ScopeDenied, match="review"):
        portal.reviews.override(reader, run.id, 90.0, REASON)
    assert portal.records.reviews.for_run(run.id) == []


def test_a_token_without_the_invite_scope_cannot_invite_or_revoke(portal: Portal) -> None:
    invitation = invitation_for(portal, "firm-a")
    reviewer = Actor(ADA.label, "firm-a", ("read", "review"))
    with pytest.raises(ScopeDenied, match="invite"):
        portal.invitations.invite(reviewer, "deploy-model", "Grace", "grace@example.org")
    with pytest.raises(ScopeDenied, match="invite"):
        portal.invitations.revoke(reviewer, invitation.id)
    assert portal.records.invitations.list() == [invitation]


def test_a_token_without_the_read_scope_cannot_list_or_see_runs(portal: Portal) -> None:
    run = run_for(portal, "firm-a")
    inviter = Actor(ADA.label, "firm-a", ("invite",))
    with pytest.raises(ScopeDenied, match="read"):
        portal.runs.find(inviter)
    with pytest.raises(ScopeDenied, match="read"):
        portal.runs.get(inviter, run.id)
    with pytest.raises(ScopeDenied, match="read"):
        portal.invitations.visible(inviter)


def test_scope_denied_is_a_kind_of_access_denied() -> None:
    with pytest.raises(AccessDenied):
        Actor("x", "firm-a", ()).require("read")
