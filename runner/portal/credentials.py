"""Credentials as the portal hands them out: assessors issue and revoke them for the runs they
see, candidates download theirs, anyone holding an id checks one."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prodproven.runner import plugins
from prodproven.runner.credentials.issuing import (
    Evidence,
    Issued,
    Subject,
    Verdict,
    bundle_sha256,
)
from prodproven.runner.credentials.status_list import Fetch
from prodproven.runner.portal.access import Access, Actor, Records
from prodproven.runner.spec.challenge import load_challenge


class CredentialDesk:
    """Open Badges credentials of graded runs (``review`` scope to issue and revoke)."""

    def __init__(self, records: Records, access: Access) -> None:
        self._records = records
        self._access = access

    def issue(self, actor: Actor, run_id: str) -> Issued:
        """Sign a credential for a graded run that passed. Raises CredentialError below the
        challenge's pass score, RunStateError for a run that is not graded."""
        records = self._records
        run = self._access.visible_run(actor, run_id, "review")
        spec = load_challenge(Path(run.challenge_path), plugins.catalog()).spec
        invitation = records.invitations.for_run(run.id)
        subject = (
            Subject(invitation.candidate_email, "emailAddress")
            if invitation is not None
            else Subject(run.candidate, "name")
        )
        artifacts = [(a.name, a.sha256) for a in records.store.artifacts(run.id)]
        evidence = Evidence(
            run, spec, records.reviews.for_run(run.id), bundle_sha256(run, artifacts)
        )
        return records.credentials.issue(
            evidence,
            subject,
            actor.label,
            issuer_name=f"{self._access.firm_of(run.id)} (prodproven)",
            base_url=records.settings.base_url,
            months=records.settings.validity_months,
        )

    def revoke(self, actor: Actor, credential_id: str, reason: str) -> Issued:
        actor.require("review")
        issued = self._records.credentials.get(credential_id)
        self._access.visible_run(actor, issued.run_id)
        return self._records.credentials.revoke(credential_id, actor.label, reason)

    def of_run(self, actor: Actor, run_id: str) -> list[Issued]:
        self._access.visible_run(actor, run_id)
        return self._records.credentials.for_run(run_id)

    def of_invitation(self, invitation_id: str) -> list[Issued]:
        """The credentials of the run an invitation led to that are not revoked (what its
        candidate may download), oldest first."""
        run_id = self._records.invitations.get(invitation_id).run_id
        issued = self._records.credentials.for_run(run_id) if run_id else []
        return [c for c in issued if c.revoked_at is None]

    def public(self, credential_id: str) -> tuple[Issued, Verdict]:
        """A credential and whether it is valid now, for anyone holding its id. Raises
        CredentialError for an id this installation never issued."""
        issued = self._records.credentials.get(credential_id)
        return issued, self._records.credentials.verify(issued.document)

    def verify(self, document: Any, fetch: Fetch) -> Verdict:
        """Check a credential document, fetching status lists with ``fetch``."""
        return self._records.credentials.verify(document, fetch=fetch)

    def revocation_list(self) -> dict[str, Any]:
        """The signed revocation status list as it stands."""
        return self._records.credentials.revocation_list(self._records.settings.base_url)
