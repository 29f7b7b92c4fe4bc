"""Invitations as assessors and the operator make them (runner/portal/invitations.py): of the
inviting firm, audited, listed and revoked within the firm only."""

from __future__ import annotations

import math
from datetime import timedelta
from pathlib import Path

import pytest

from prodproven.runner.errors import ChallengeNotFound, InvitationError, UntrustedInput
from prodproven.runner.people.invitations import Accommodation
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


def test_the_extra_time_an_invitation_grants_is_audited(portal: Portal) -> None:
    granted = Accommodation(minutes=45)
    invitation, _ = portal.invitations.invite(
        ADA, "deploy-model", "Grace", "grace@example.org", accommodation=granted
    )
    assert invitation.accommodation == granted
    [entry] = portal.records.audit.entries(subject=invitation.id)
    assert entry.data["extra_time"] == "+45 min"


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


# hostile input ---------------------------------------------------------------------------------
def secret_challenge_folder(tmp_path: Path) -> Path:
    """A folder whose challenge.yaml is a symlink to a secret file of the server."""
    secret = tmp_path / "shadow"
    secret.write_text("root:$6$very-secret-hash:19000:0:99999:7:::\n")
    folder = tmp_path / "evil"
    folder.mkdir()
    (folder / "challenge.yaml").symlink_to(secret)
    return folder


def test_a_path_as_the_challenge_is_refused_without_echoing_files_or_revealing_paths(
    portal: Portal, tmp_path: Path
) -> None:
    folder = secret_challenge_folder(tmp_path)
    builtin = str(portal.catalogue.find_id("deploy-model").root)
    messages = []
    for ref in (str(folder), builtin, "/no/such/folder", "../deploy-model", "./deploy-model"):
        with pytest.raises(ChallengeNotFound) as refused:
            portal.invitations.invite(ADA, ref, "Grace", "grace@example.org")
        messages.append(str(refused.value))
    assert not any("secret" in m or "root:" in m for m in messages)
    assert len(set(messages)) == 1  # an existing path and a missing one get the same answer
    assert portal.records.invitations.list() == []


@pytest.mark.parametrize("days", [math.inf, -math.inf, math.nan, 1e308, 0, -1, 91])
def test_a_lifetime_that_is_not_finite_or_in_range_is_refused_and_nothing_is_created(
    portal: Portal, days: float
) -> None:
    with pytest.raises((UntrustedInput, InvitationError)):
        portal.invitations.invite(ADA, "deploy-model", "Grace", "grace@example.org", days=days)
    assert portal.records.invitations.list() == []
