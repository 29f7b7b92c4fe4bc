"""The people the portal knows: assessors with their sessions and API tokens, and candidates
with their profiles, track records and the record links they share."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from prodproven.runner.errors import AccessDenied, CandidateNotFound
from prodproven.runner.people import track_record
from prodproven.runner.people.accounts import ApiToken, Assessor, Removed, WebSession
from prodproven.runner.people.campaigns import Campaigns
from prodproven.runner.people.candidates import Candidate, Forgotten, Keeper
from prodproven.runner.people.frameworks import Frameworks, RoleProfiles
from prodproven.runner.people.shares import (
    Share,
    SharedCredential,
    SharedLevel,
    SharedRecord,
    ShareNotFound,
    Shares,
)
from prodproven.runner.people.teams import Teams
from prodproven.runner.portal.access import Access, Actor, Records
from prodproven.runner.present.plots import track_record_plot
from prodproven.runner.runs.store import Run, utcnow
from prodproven.runner.similarity import store as similarity_store
from prodproven.runner.spec.framework import BUILTIN
from prodproven.runner.spec.parts import about_competency


class AccountDesk:
    """Signing in and out, and the assessor accounts the operator manages at the CLI."""

    def __init__(self, records: Records, access: Access) -> None:
        self._records = records
        self._access = access

    def sign_in(self, email: str, password: str, address: str) -> tuple[Assessor, str]:
        """The assessor and the cookie of their new browser session, both audited; ``address``
        is the client's. Raises SignInThrottled before the password is even checked when the
        account or the address failed too often (:mod:`prodproven.runner.people.throttle`),
        AccessDenied (recorded as a failed sign-in, and a lockout when it locks the account)."""
        accounts, throttle = self._records.accounts, self._records.throttle
        who = email.strip().lower()[:254] or "?"
        throttle.admit(email, address)
        try:
            person = accounts.authenticate(email, password)
        except AccessDenied:
            self._access.record(who, "login.failed", "web", {"address": address})
            if throttle.failed(email):
                self._access.record(who, "login.locked", "web", {"address": address})
            raise
        throttle.succeeded(email, address)
        hours = self._records.settings.session_hours
        cookie, _ = accounts.open_session("assessor", str(person.id), timedelta(hours=hours))
        self._access.record(person.email, "login", "web")
        return person, cookie

    def sign_out(self, cookie: str) -> None:
        self._records.accounts.close_session(cookie)

    def assessor_session(self, cookie: str) -> tuple[Assessor, WebSession]:
        """The assessor signed in with ``cookie``. Raises AccessDenied."""
        session = self._records.accounts.session(cookie, "assessor")
        return self._records.accounts.assessor(int(session.subject)), session

    def candidate_session(self, cookie: str) -> WebSession:
        """The candidate session of ``cookie``; its subject is the invitation. Raises
        AccessDenied."""
        return self._records.accounts.session(cookie, "candidate")

    def api_actor(self, secret: str) -> Actor:
        """The actor of an API token. Raises AccessDenied."""
        token = self._records.accounts.token(secret)
        return Actor.of(token.assessor, token.scopes)

    def add_assessor(self, email: str, name: str, firm: str, password: str) -> Assessor:
        return self._records.accounts.add_assessor(email, name, firm, password)

    def set_password(self, actor: Actor, email: str, password: str) -> int:
        """Set the password; the assessor's browser sessions end. Returns how many ended."""
        self._access.operator_only(actor, "set a password")
        ended = self._records.accounts.set_password(email, password)
        self._access.record(actor.label, "assessor.password", "accounts", {"email": email})
        return ended

    def remove(self, actor: Actor, email: str) -> Removed:
        """Delete the assessor, their API tokens and sessions; audited."""
        self._access.operator_only(actor, "remove an assessor")
        removed = self._records.accounts.remove_assessor(email)
        self._access.record(
            actor.label,
            "assessor.removed",
            "accounts",
            {"email": removed.assessor.email, "firm": removed.assessor.firm},
        )
        return removed

    def unlock(self, actor: Actor, email: str) -> bool:
        """Lift the sign-in lockout of ``email`` and forget its failures; audited. True when it
        was locked."""
        self._access.operator_only(actor, "unlock an assessor")
        was_locked = self._records.throttle.unlock(email)
        data = {"email": email, "was_locked": was_locked}
        self._access.record(actor.label, "assessor.unlocked", "accounts", data)
        return was_locked

    def assessors(self) -> list[Assessor]:
        return self._records.accounts.assessors()

    def create_token(
        self, email: str, name: str, scopes: tuple[str, ...], days: float | None = None
    ) -> tuple[ApiToken, str]:
        """A new API token valid for ``days`` (default: the ``token_days`` setting) and its
        secret (shown only now)."""
        lifetime = self._records.settings.token_days if days is None else days
        return self._records.accounts.create_token(email, name, scopes, lifetime)

    def tokens(self, email: str) -> list[ApiToken]:
        """The assessor's API tokens (never their secrets)."""
        return self._records.accounts.tokens(email)

    def revoke_token(self, actor: Actor, token_id: int) -> ApiToken:
        """Revoke an API token; audited."""
        token = self._records.accounts.revoke_token(token_id)
        self._access.record(
            actor.label,
            "token.revoked",
            "accounts",
            {"token": token.id, "email": token.assessor.email},
        )
        return token


@dataclass(frozen=True)
class CandidateRecord:
    candidate: Candidate
    runs: list[Run]
    record: dict[str, tuple[track_record.Standing, list[tuple[datetime, float]]]]

    def chart(self) -> str:
        """The competencies' history as SVG (empty without runs)."""
        if not self.runs:
            return ""
        history = {c: points for c, (_, points) in self.record.items()}
        return track_record_plot(history, self.runs[0].created_at)


class CandidateDesk:
    """Candidate profiles, their runs and track records as an actor may see them."""

    def __init__(self, records: Records, access: Access) -> None:
        self._records = records
        self._access = access
        self._shares = Shares(records.store, records.audit)
        self._teams = Teams(RoleProfiles(Frameworks(records.store, records.audit)))
        self._campaigns = Campaigns(records.store)

    def add(self, name: str, email: str | None = None, external_id: str | None = None) -> Candidate:
        """Make (or complete) the profile of ``name``."""
        return self._records.candidates.ensure(name, email, external_id)

    def all(self) -> list[Candidate]:
        return self._records.candidates.all()

    def runs(self, actor: Actor, name: str) -> list[Run]:
        """The runs of ``name`` that ``actor`` may see. Raises CandidateNotFound."""
        actor.require("read")
        self._records.candidates.get(name)
        firms = self._access.firms()
        return [
            r
            for r in self._records.candidates.runs(name)
            if actor.sees(self._access.firm_of(r.id, firms))
        ]

    def record(self, actor: Actor, name: str) -> CandidateRecord:
        """The candidate's profile, the runs ``actor`` may see and their track record now."""
        actor.require("read")
        candidate = self._records.candidates.get(name)
        runs = self.runs(actor, name)
        if not runs and actor.firm is not None:
            raise CandidateNotFound(f"no candidate {name!r}")  # another firm's: not disclosed
        seen = {r.id for r in runs}
        evidence = [e for e in self._records.candidates.evidence(name) if e.run_id in seen]
        months = self._records.settings.validity_months
        return CandidateRecord(candidate, runs, track_record.record(evidence, utcnow(), months))

    def forget(self, actor: Actor, name: str) -> Forgotten:
        """Only the operator, who sees every firm, may erase a candidate."""
        self._access.operator_only(actor, "forget a candidate")
        candidates = self._records.candidates
        return candidates.forget(name, actor.label, self._records.credentials, self._keepers())

    def _keepers(self) -> dict[str, Keeper]:
        """Everything that keeps something of a person beyond their runs, invitations,
        credentials and emails, by what ``forget`` reports it as: the one list to extend."""
        return {
            "team_memberships": self._teams,
            "campaign_places": self._campaigns,
            "record_links": self._shares,
            "fingerprints": similarity_store.Forgetting(self._records.store),
        }

    def share(self, actor: Actor, name: str) -> tuple[Share, str]:
        """The operator makes ``name``'s record link on their behalf (a new one ends the old):
        the share and the link, shown only now. Raises CandidateNotFound, ShareError."""
        self._access.operator_only(actor, "share a candidate's record")
        return self._share(self._records.candidates.get(name), actor.label)

    def unshare(self, actor: Actor, name: str) -> Share:
        """Raises CandidateNotFound, ShareNotFound when ``name`` shares no link."""
        self._access.operator_only(actor, "stop sharing a candidate's record")
        return self._shares.revoke(self._records.candidates.get(name), actor.label)

    def own_share(self, invitation_id: str) -> Share | None:
        """The live record link of the candidate of an invitation (their session's), if any."""
        return self._shares.current(self._invited(invitation_id))

    def share_own(self, invitation_id: str) -> tuple[Share, str]:
        """The candidate of an invitation shares their own record. Raises ShareError."""
        return self._share(self._invited(invitation_id), f"candidate:{invitation_id}")

    def unshare_own(self, invitation_id: str) -> Share:
        """Raises ShareNotFound when the candidate shares no link."""
        return self._shares.revoke(self._invited(invitation_id), f"candidate:{invitation_id}")

    def shared_record(self, token: str) -> SharedRecord:
        """What a record link shows, to anyone holding it: the person's name, their credentials
        valid now, and their current level per competency from the runs those credentials
        attest (any firm's; a run without a valid credential never counts). Raises
        ShareNotFound for a revoked or unknown link, alike."""
        person = self._shares.find(token)
        if person is None:
            raise ShareNotFound("no record is shared at this link")
        now, records = utcnow(), self._records
        runs = {r.id: r for r in records.candidates.runs(person.name)}
        valid = sorted(
            (
                c
                for run_id in runs
                for c in records.credentials.for_run(run_id)
                if c.revoked_at is None and c.valid_until > now
            ),
            key=lambda c: c.issued_at,
        )
        attested = {c.run_id for c in valid}
        evidence = [e for e in records.candidates.evidence(person.name) if e.run_id in attested]
        standings = track_record.record(evidence, now, records.settings.validity_months)
        base = records.settings.base_url
        return SharedRecord(
            name=person.name,
            at=now,
            credentials=[
                SharedCredential(
                    id=c.id,
                    challenge=runs[c.run_id].challenge_id,
                    title=str(c.document["credentialSubject"]["achievement"]["name"]),
                    issued=c.issued_at,
                    expires=c.valid_until,
                    url=f"{base}/credentials/{c.id}",
                )
                for c in valid
            ],
            levels=[_level(s) for s, _ in standings.values() if s.value is not None],
        )

    def _share(self, candidate: Candidate, who: str) -> tuple[Share, str]:
        share, token = self._shares.create(candidate, who)
        return share, f"{self._records.settings.base_url}/record/{token}"

    def _invited(self, invitation_id: str) -> Candidate:
        invitation = self._records.invitations.get(invitation_id)
        return self._records.candidates.ensure(invitation.candidate_name)


def _level(standing: track_record.Standing) -> SharedLevel:
    """A current competency as a record link shows it."""
    value, competency = standing.value or 0.0, standing.competency
    low, high = standing.interval or (value, value)
    builtin = {c.id: c for c in BUILTIN.competencies}.get(competency)
    return SharedLevel(
        competency=competency,
        label=about_competency(competency)[0],
        value=round(value, 1),
        level=None if builtin is None else builtin.level_of(value),
        interval=(round(low, 1), round(high, 1)),
        lapses=(standing.lapsed_at or standing.last_evidence).date(),
    )
