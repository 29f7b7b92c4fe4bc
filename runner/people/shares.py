"""A person's shared record: a link they give out (to a future employer, on a CV) that shows
their credentials valid now and their current level per competency, and nothing else
(docs/teams.md#sharing-a-record).

Nothing is shared until the person, or the operator at the CLI on their behalf, makes a link.
The link carries a 256-bit random token; only its SHA-256 is stored, so the link is shown once,
when it is made. A person has at most one live link: making a new one revokes the old. A
revoked link and one never made get the same answer. Forgetting the person deletes their links.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import date, datetime

from pydantic import BaseModel, ConfigDict
from sqlalchemy import Select, String, select
from sqlalchemy.orm import Mapped, mapped_column

from prodproven.runner.errors import ProdprovenError
from prodproven.runner.people.accounts import digest
from prodproven.runner.people.audit import Audit
from prodproven.runner.people.candidates import Candidate, CandidateRow
from prodproven.runner.runs.store import Base, Store, utcnow


class ShareError(ProdprovenError):
    """A record cannot be shared or unshared as asked (the message says whose and why)."""


class ShareNotFound(ShareError):
    """The person has no live record link."""


class ShareRow(Base):
    __tablename__ = "record_shares"
    id: Mapped[str] = mapped_column(String(16), primary_key=True)
    candidate_id: Mapped[str] = mapped_column(String(16), index=True)
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column()
    created_by: Mapped[str] = mapped_column(String(254))
    revoked_at: Mapped[datetime | None] = mapped_column()


@dataclass(frozen=True)
class Share:
    id: str
    candidate_id: str
    created_at: datetime
    created_by: str
    revoked_at: datetime | None

    @classmethod
    def from_row(cls, row: ShareRow) -> Share:
        return cls(row.id, row.candidate_id, row.created_at, row.created_by, row.revoked_at)


class Shares:
    """Record links by person; each change is written to the audit log, about the person."""

    def __init__(self, store: Store, audit: Audit) -> None:
        self.store = store
        self.audit = audit

    def create(self, candidate: Candidate, who: str) -> tuple[Share, str]:
        """A new live link for ``candidate`` and its token (shown only now); their previous
        link stops working. Raises ShareError for a forgotten candidate."""
        if candidate.forgotten_at is not None:
            raise ShareError(f"candidate {candidate.name!r} was forgotten; nothing is shared")
        token = secrets.token_urlsafe(32)
        with self.store.session() as s:
            now = utcnow()
            for old in s.scalars(_live(candidate)):
                old.revoked_at = now
            row = ShareRow(
                id=secrets.token_hex(6),
                candidate_id=candidate.id,
                digest=digest(token),
                created_at=now,
                created_by=who,
            )
            s.add(row)
            s.flush()
            share = Share.from_row(row)
        self.audit.record(who, "record.shared", candidate.id, {"share": share.id})
        return share, token

    def revoke(self, candidate: Candidate, who: str) -> Share:
        """End ``candidate``'s live link. Raises ShareNotFound when they have none."""
        with self.store.session() as s:
            row = s.scalar(_live(candidate))
            if row is None:
                raise ShareNotFound(f"candidate {candidate.name!r} has no shared record link")
            row.revoked_at = utcnow()
            s.flush()
            share = Share.from_row(row)
        self.audit.record(who, "record.unshared", candidate.id, {"share": share.id})
        return share

    def current(self, candidate: Candidate) -> Share | None:
        """``candidate``'s live link, if any (never its token)."""
        with self.store.session() as s:
            row = s.scalar(_live(candidate))
            return None if row is None else Share.from_row(row)

    def find(self, token: str) -> Candidate | None:
        """Whose record a token shows; None for a revoked or unknown token (alike)."""
        with self.store.session() as s:
            row = s.scalar(
                select(CandidateRow)
                .join(ShareRow, ShareRow.candidate_id == CandidateRow.id)
                .where(ShareRow.digest == digest(token), ShareRow.revoked_at.is_(None))
            )
            return None if row is None else Candidate.from_row(row)

    def forget(self, candidate: Candidate) -> int:
        """Delete every link of ``candidate``, live or not; how many there were."""
        with self.store.session() as s:
            rows = list(s.scalars(select(ShareRow).where(ShareRow.candidate_id == candidate.id)))
            for row in rows:
                s.delete(row)
            return len(rows)


def _live(candidate: Candidate) -> Select[ShareRow]:
    return select(ShareRow).where(
        ShareRow.candidate_id == candidate.id, ShareRow.revoked_at.is_(None)
    )


class _Shown(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SharedCredential(_Shown):
    """A credential of the person's that is valid now: not revoked, not expired."""

    id: str
    challenge: str
    """The challenge's id."""
    title: str
    """What the credential is named (the challenge's title)."""
    issued: datetime
    expires: datetime
    url: str
    """Its public verification page."""


class SharedLevel(_Shown):
    """A competency the person's credentialed runs show now."""

    competency: str
    label: str
    value: float
    """0-100, the track record's current value (docs/candidates.md)."""
    level: int | None
    """The built-in framework's level (1-5); None for a firm framework's competency."""
    interval: tuple[float, float]
    """The value's 90% interval."""
    lapses: date
    """When the newest evidence stops counting."""


class SharedRecord(_Shown):
    """What a record link shows: the person's name, credentials valid now and current levels;
    never runs, scores of single runs, evidence, emails, notes or reviews."""

    name: str
    at: datetime
    """When the record was read."""
    credentials: list[SharedCredential]
    levels: list[SharedLevel]
