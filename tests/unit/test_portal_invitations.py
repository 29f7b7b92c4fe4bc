"""Invitations as assessors and the operator make them (runner/portal/invitations.py): of the
inviting firm, audited, listed and revoked within the firm only."""

from __future__ import annotations

from datetime import timedelta

import pytest

from prodproven.runner.errors import ChallengeNotFound, InvitationError
from prodproven.runner.portal.core import Portal
from tests.unit.portalsupport import ADA, CLI, invitation_for


# invitations ----------------------------------------------------------------------------------
def test_an_invitation_belongs_to_the_inviting_firm_and_is_audited(portal: Portal) -> None:
    invitation, link = portal.invitations.invite(ADA, "deploy-model", "Grace", "grace@example.org")
    assert invitation.firm == "firm-a"
    assert invitation.created_by == ADA.label
    assert invitation.expires_at - invitation.created_at == timedelta(days=7)
    token = link.removeprefix(f"{portal.settings.base_url}/i/")
    assert token != link and portal.records.invitations.find(token) == invitation
    [entry] = portal.records.audit.entries(subject=invitation.id)
    assert (entry.actor, entry.action) == (ADA.label, "invitation.created")
    assert entry.data == {"challenge": "deploy-model", "candidate": "grace@example.org"}


def test_an_invitation_from_the_cli_belongs_to_the_installations_firm(portal: Portal) -> None:
    invitation, _ = portal.invitations.invite(
        CLI, "deploy-model", "Grace", "grace@example.org", days=1
    )
    assert invitation.firm == "default"
    assert invitation.expires_at - invitation.created_at == timedelta(days=1)


def test_an_invitation_to_an_unknown_challenge_is_refused(portal: Portal) -> None:
    with pytest.raises(ChallengeNotFound):
        portal.invitations.invite(ADA, "no-such-challenge", "Grace", "grace@example.org")
    assert portal.records.invitations.list() == []


def test_an_assessor_lists_only_the_invitations_of_their_firm(portal: Portal) -> None:
    ours = invitation_for(portal, "firm-a")
    theirs = invitation_for(portal, "firm-b")
    assert portal.invitations.visible(ADA) == [ours]
    assert {i.id for i in portal.invitations.visible(CLI)} == {ours.id, theirs.id}


def test_revoking_an_invitation_of_the_own_firm_is_audited(portal: Portal) -> None:
    invitation = invitation_for(portal, "firm-a")
    portal.invitations.revoke(ADA, invitation.id)
    assert portal.records.invitations.get(invitation.id).state == "revoked"
    [entry] = portal.records.audit.entries(subject=invitation.id)
    assert (entry.actor, entry.action) == (ADA.label, "invitation.revoked")


def test_revoking_another_firms_invitation_is_refused(portal: Portal) -> None:
    theirs = invitation_for(portal, "firm-b")
    with pytest.raises(InvitationError) as refused:
        portal.invitations.revoke(ADA, theirs.id)
    with pytest.raises(InvitationError) as missing:
        portal.invitations.revoke(ADA, "nope")
    assert str(refused.value) == str(missing.value).replace("'nope'", repr(theirs.id))
    assert portal.records.invitations.get(theirs.id).revoked_at is None
    assert portal.records.audit.entries(subject=theirs.id) == []
