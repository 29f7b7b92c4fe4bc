"""Invitations as assessors and the operator make them: invite a candidate to a challenge,
list and revoke invitations."""

from __future__ import annotations

from datetime import timedelta

from prodproven.runner.errors import InvitationError
from prodproven.runner.people.invitations import (
    MAX_LIFETIME,
    NO_EXTRA_TIME,
    Accommodation,
    Invitation,
)
from prodproven.runner.portal.access import Access, Actor, Records
from prodproven.runner.portal.catalogue import Catalogue
from prodproven.sandbox.untrusted import finite


class InvitationDesk:
    """Invitations of the actor's firm (``invite`` scope to change them, ``read`` to list)."""

    def __init__(self, records: Records, access: Access, catalogue: Catalogue) -> None:
        self._records = records
        self._access = access
        self._catalogue = catalogue

    def invite(
        self,
        actor: Actor,
        challenge_ref: str,
        candidate_name: str,
        candidate_email: str,
        days: float | None = None,
        variant: int | None = None,
        accommodation: Accommodation = NO_EXTRA_TIME,
    ) -> tuple[Invitation, str]:
        """A new invitation and its single-use link (shown only now). ``challenge_ref`` is the
        id of an installed challenge, never a path; ``accommodation`` the extra time it
        grants (recorded in the audit log when any). Raises ChallengeNotFound, InvitationError,
        UntrustedInput (a lifetime that is not a number of days up to the maximum); nothing is
        created then."""
        actor.require("invite")
        settings = self._records.settings
        challenge = self._catalogue.find_id(challenge_ref)
        if days is not None:
            finite(days, what="days", low=0, high=MAX_LIFETIME.days)
        invitation, token = self._records.invitations.create(
            firm=actor.firm or settings.firm,
            challenge_id=challenge.id,
            candidate_name=candidate_name,
            candidate_email=candidate_email,
            created_by=actor.label,
            lifetime=timedelta(days=days if days is not None else settings.invitation_days),
            variant=variant,
            accommodation=accommodation,
        )
        self._access.record(
            actor.label,
            "invitation.created",
            invitation.id,
            {
                "challenge": challenge.id,
                "candidate": invitation.candidate_email,
                **({"extra_time": accommodation.describe()} if accommodation else {}),
            },
        )
        self._records.candidates.ensure(candidate_name, candidate_email)
        return invitation, self.link(token)

    def link(self, token: str) -> str:
        return f"{self._records.settings.base_url}/i/{token}"

    def revoke(self, actor: Actor, invitation_id: str) -> None:
        actor.require("invite")
        if not actor.sees(self._records.invitations.get(invitation_id).firm):
            raise InvitationError(f"no invitation {invitation_id!r}")
        self._records.invitations.revoke(invitation_id)
        self._access.record(actor.label, "invitation.revoked", invitation_id)

    def visible(self, actor: Actor) -> list[Invitation]:
        """The invitations of ``actor``'s firm (every firm's for the operator)."""
        actor.require("read")
        return self._records.invitations.list(firm=actor.firm)
