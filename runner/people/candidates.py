"""Candidates as people: a profile (name, email, an optional id from the firm's hiring system)
with all their runs, their track record, and the right to be forgotten.

A run names its candidate; the profile of that name gathers the runs. Profiles are made when a
candidate is invited, by ``prodproven candidate add``, or on first look for a name that has
runs. Forgetting a candidate replaces their name everywhere with an alias, erases their email,
external id and workspaces, revokes their credentials, and has every other part that keeps
something of them (a ``Keeper``: team memberships, record links) delete it; the scores stay,
anonymous, for the challenge's statistics.
"""

from __future__ import annotations

import secrets
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Protocol

from sqlalchemy import String, select
from sqlalchemy.orm import Mapped, mapped_column

from prodproven.runner.errors import CandidateNotFound, RunStateError
from prodproven.runner.grading.result import status_document
from prodproven.runner.people import track_record
from prodproven.runner.people.audit import Audit
from prodproven.runner.people.invitations import InvitationRow
from prodproven.runner.people.outbox import Outbox
from prodproven.runner.runs.store import UNFINISHED, Base, Run, Status, Store, utcnow

FORGOTTEN_REASON = "the candidate asked to be forgotten"


class IssuedCredential(Protocol):
    @property
    def id(self) -> str: ...

    @property
    def revoked_at(self) -> datetime | None: ...


class CredentialRegister(Protocol):
    """What forgetting a candidate asks of the credential register
    (runner/credentials/issuing.py's ``Register``, a layer above this one)."""

    def for_run(self, run_id: str) -> Sequence[IssuedCredential]: ...

    def revoke(self, credential_id: str, actor: str, reason: str) -> object: ...

    def rename_candidate(self, run_id: str, alias: str) -> None: ...


class CandidateRow(Base):
    __tablename__ = "candidates"
    id: Mapped[str] = mapped_column(String(16), primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True, index=True)
    email: Mapped[str | None] = mapped_column(String(254))
    external_id: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column()
    forgotten_at: Mapped[datetime | None] = mapped_column()


@dataclass(frozen=True)
class Candidate:
    id: str
    name: str
    email: str | None
    external_id: str | None
    created_at: datetime
    forgotten_at: datetime | None

    @classmethod
    def from_row(cls, row: CandidateRow) -> Candidate:
        return cls(**{f: getattr(row, f) for f in cls.__dataclass_fields__})


@dataclass(frozen=True)
class Forgotten:
    alias: str
    runs: int
    credentials: int
    invitations: int
    messages: int
    """Emails to them deleted from the outbox."""
    others: dict[str, int] = field(default_factory=dict)
    """What each other keeper of the person deleted, by its name (e.g. ``team_memberships``)."""


class Keeper(Protocol):
    """A part of prodproven, above this module, that keeps something of a candidate (their
    team memberships, their record links) and deletes it when they are forgotten."""

    def forget(self, candidate: Candidate) -> int:
        """Delete what is kept of ``candidate``; how many things there were."""
        ...


class Candidates:
    def __init__(self, store: Store, audit: Audit, runs_dir: Path) -> None:
        self.store = store
        self.audit = audit
        self.runs_dir = runs_dir

    def ensure(
        self, name: str, email: str | None = None, external_id: str | None = None
    ) -> Candidate:
        """The profile of ``name``, made if missing; a given email or external id is kept."""
        with self.store.session() as s:
            row = s.scalar(select(CandidateRow).where(CandidateRow.name == name))
            if row is None:
                row = CandidateRow(id=secrets.token_hex(6), name=name, created_at=utcnow())
                s.add(row)
            row.email = email or row.email
            row.external_id = external_id or row.external_id
            s.flush()
            return Candidate.from_row(row)

    def get(self, name: str) -> Candidate:
        """Raises CandidateNotFound when there is neither a profile nor a run of that name."""
        with self.store.session() as s:
            row = s.scalar(select(CandidateRow).where(CandidateRow.name == name))
            if row is not None:
                return Candidate.from_row(row)
        if not self.runs(name):
            raise CandidateNotFound(f"no candidate {name!r} (see `prodproven candidate list`)")
        return self.ensure(name)

    def all(self) -> list[Candidate]:
        with self.store.session() as s:
            rows = s.scalars(select(CandidateRow).order_by(CandidateRow.name))
            return [Candidate.from_row(r) for r in rows]

    def runs(self, name: str) -> list[Run]:
        """Every run of the candidate, oldest first."""
        found = [r for r in self.store.list_runs() if r.candidate == name]
        return sorted(found, key=lambda r: r.created_at)

    def evidence(self, name: str) -> list[track_record.Evidence]:
        """Each graded run's competency scores, with the run's own measurement error."""
        graded = [
            (run.graded_at, status_document(run))
            for run in self.runs(name)
            if run.status is Status.graded and run.graded_at is not None
        ]
        return [
            track_record.Evidence(
                competency,
                score,
                at,
                result.run_id,
                track_record.measurement_se(result, competency),
            )
            for at, result in graded
            for competency, score in result.competencies.items()
        ]

    def forget(
        self,
        name: str,
        actor: str,
        credentials: CredentialRegister,
        keepers: Mapping[str, Keeper] | None = None,
    ) -> Forgotten:
        """Erase the candidate's personal data and workspaces, and their emails in the outbox
        (to their address and every address they were invited at); revoke their credentials;
        have each of ``keepers`` delete what it keeps of them. Raises CandidateNotFound, or
        RunStateError while one of their runs is under way."""
        candidate = self.get(name)
        runs = self.runs(name)
        busy = [r.id for r in runs if r.status in UNFINISHED]
        if busy:
            raise RunStateError(
                f"runs {', '.join(busy)} of {name!r} are not finished; submit or remove them first"
            )
        alias = f"forgotten-{candidate.id}"
        revoked = 0
        for run in runs:
            for issued in credentials.for_run(run.id):
                if issued.revoked_at is None:
                    credentials.revoke(issued.id, actor, FORGOTTEN_REASON)
                    revoked += 1
            credentials.rename_candidate(run.id, alias)
            renamed = replace(run, candidate=alias)
            result = status_document(renamed).stored() if run.result else None
            self.store.update(run.id, candidate=alias, result=result, archive_path=None)
            shutil.rmtree(self.runs_dir / run.id, ignore_errors=True)
        theirs = InvitationRow.candidate_name == name
        if candidate.email:  # (PostgreSQL refuses a NUL byte as a never-matching email)
            theirs = theirs | (InvitationRow.candidate_email == candidate.email)
        with self.store.session() as s:
            invitations = list(s.scalars(select(InvitationRow).where(theirs)))
            addresses = {candidate.email or ""} | {i.candidate_email for i in invitations}
            for invitation in invitations:
                invitation.candidate_name, invitation.candidate_email = alias, ""
            row = s.get(CandidateRow, candidate.id)
            assert row is not None
            row.name, row.email, row.external_id = alias, None, None
            row.forgotten_at = utcnow()
        outbox = Outbox(self.store, None)
        messages = sum(outbox.forget(address) for address in sorted(addresses - {""}))
        others = {part: keeper.forget(candidate) for part, keeper in (keepers or {}).items()}
        self.audit.pseudonymize([name, candidate.email or "", candidate.external_id or ""], alias)
        done = Forgotten(alias, len(runs), revoked, len(invitations), messages, others)
        self.audit.record(actor, "candidate.forgotten", alias, vars(done))
        return done
