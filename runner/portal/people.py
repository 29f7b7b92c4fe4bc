"""The people the portal knows: assessors with their sessions and API tokens, and candidates
with their profiles and track records."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from prodproven.runner.errors import AccessDenied, CandidateNotFound
from prodproven.runner.people import track_record
from prodproven.runner.people.accounts import ApiToken, Assessor, Removed, WebSession
from prodproven.runner.people.candidates import Candidate, Forgotten
from prodproven.runner.portal.access import Access, Actor, Records
from prodproven.runner.present.plots import track_record_plot
from prodproven.runner.runs.store import Run, utcnow


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
