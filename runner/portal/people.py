"""The people the portal knows: assessors with their sessions and API tokens, and candidates
with their profiles and track records."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from prodproven.runner.errors import AccessDenied, CandidateNotFound
from prodproven.runner.people import track_record
from prodproven.runner.people.accounts import ApiToken, Assessor, WebSession
from prodproven.runner.people.candidates import Candidate, Forgotten
from prodproven.runner.portal.access import Access, Actor, Records
from prodproven.runner.present.plots import track_record_plot
from prodproven.runner.runs.store import Run, utcnow


class AccountDesk:
    """Signing in and out, and the assessor accounts the operator manages at the CLI."""

    def __init__(self, records: Records, access: Access) -> None:
        self._records = records
        self._access = access

    def sign_in(self, email: str, password: str) -> tuple[Assessor, str]:
        """The assessor and the cookie of their new browser session, both audited. Raises
        AccessDenied (recorded as a failed sign-in)."""
        accounts = self._records.accounts
        try:
            person = accounts.authenticate(email, password)
        except AccessDenied:
            self._access.record(email[:254] or "?", "login.failed", "web")
            raise
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

    def set_password(self, email: str, password: str) -> None:
        self._records.accounts.set_password(email, password)

    def assessors(self) -> list[Assessor]:
        return self._records.accounts.assessors()

    def create_token(self, email: str, name: str, scopes: tuple[str, ...]) -> tuple[ApiToken, str]:
        """A new API token and its secret (shown only now)."""
        return self._records.accounts.create_token(email, name, scopes)

    def revoke_token(self, token_id: int) -> None:
        self._records.accounts.revoke_token(token_id)


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
        return self._records.candidates.forget(name, actor.label, self._records.credentials)
