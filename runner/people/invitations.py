"""Invitations: a firm asks one candidate to take one challenge, through a single-use link.

The link carries a 256-bit random token; only its SHA-256 is stored. Visiting it changes
nothing (a mail scanner may open it); pressing the button of its page redeems it (the browser
then holds a candidate session); any later visit with the same link, from any
browser, is refused, as is a visit after the invitation expired or was revoked. The run a
candidate starts is attached to the invitation, which is how a run belongs to a firm.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Integer, String, select
from sqlalchemy.orm import Mapped, mapped_column

from prodproven.runner.errors import AccessDenied, InvitationError
from prodproven.runner.people.accounts import EMAIL, digest
from prodproven.runner.runs.store import Base, Store, utcnow
from prodproven.runner.spec.prepare import MAX_VARIANT

MAX_LIFETIME = timedelta(days=90)
MAX_NAME = 200
"""The longest candidate name (characters)."""
MAX_EMAIL = 254
"""The longest email address (characters, RFC 5321)."""
MAX_EXTRA_MINUTES = 600
"""The most extra time an invitation grants in minutes."""
MAX_EXTRA_PERCENT = 200
"""The most extra time an invitation grants as a percentage of the challenge's time limit."""


class InvitationRow(Base):
    __tablename__ = "invitations"
    id: Mapped[str] = mapped_column(String(16), primary_key=True)
    firm: Mapped[str] = mapped_column(String(64), index=True)
    challenge_id: Mapped[str] = mapped_column(String(64))
    candidate_name: Mapped[str] = mapped_column(String(200))
    candidate_email: Mapped[str] = mapped_column(String(254))
    created_by: Mapped[str] = mapped_column(String(254))
    created_at: Mapped[datetime] = mapped_column()
    expires_at: Mapped[datetime] = mapped_column()
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    redeemed_at: Mapped[datetime | None] = mapped_column()
    revoked_at: Mapped[datetime | None] = mapped_column()
    run_id: Mapped[str | None] = mapped_column(String(32), index=True)
    variant: Mapped[int | None] = mapped_column(Integer)
    extra_minutes: Mapped[int | None] = mapped_column(Integer)
    extra_percent: Mapped[int | None] = mapped_column(Integer)


@dataclass(frozen=True)
class Accommodation:
    """Extra time an invitation grants: ``minutes``, or ``percent`` of the time limit (one of
    them, or neither)."""

    minutes: int = 0
    percent: int = 0

    def __post_init__(self) -> None:
        """Raises InvitationError when out of range or both are given."""
        if not 0 <= self.minutes <= MAX_EXTRA_MINUTES:
            raise InvitationError(
                f"extra time is 0 to {MAX_EXTRA_MINUTES} minutes, not {self.minutes}"
            )
        if not 0 <= self.percent <= MAX_EXTRA_PERCENT:
            raise InvitationError(
                f"extra time is 0 to {MAX_EXTRA_PERCENT} percent, not {self.percent}"
            )
        if self.minutes and self.percent:
            raise InvitationError("grant extra time in minutes or as a percentage, not both")

    def __bool__(self) -> bool:
        return bool(self.minutes or self.percent)

    def extra(self, time_limit: timedelta) -> timedelta:
        """The extra time for a challenge of ``time_limit``."""
        return timedelta(minutes=self.minutes) + time_limit * self.percent / 100

    def describe(self) -> str:
        """For people: "+30 min", "+25 %" or "none"."""
        if self.minutes:
            return f"+{self.minutes} min"
        return f"+{self.percent} %" if self.percent else "none"


NO_EXTRA_TIME = Accommodation()


@dataclass(frozen=True)
class Invitation:
    id: str
    firm: str
    challenge_id: str
    candidate_name: str
    candidate_email: str
    created_by: str
    created_at: datetime
    expires_at: datetime
    redeemed_at: datetime | None
    revoked_at: datetime | None
    run_id: str | None
    variant: int | None
    accommodation: Accommodation = NO_EXTRA_TIME

    @property
    def state(self) -> str:
        """pending, opened, started, revoked or expired (for lists)."""
        if self.revoked_at is not None:
            return "revoked"
        if self.run_id is not None:
            return "started"
        if self.expires_at <= utcnow():
            return "expired"
        return "opened" if self.redeemed_at is not None else "pending"

    @classmethod
    def from_row(cls, row: InvitationRow) -> Invitation:
        fields = {f: getattr(row, f) for f in cls.__dataclass_fields__ if f != "accommodation"}
        granted = Accommodation(row.extra_minutes or 0, row.extra_percent or 0)
        return cls(**fields, accommodation=granted)


class Invitations:
    def __init__(self, store: Store) -> None:
        self.store = store

    def create(
        self,
        *,
        firm: str,
        challenge_id: str,
        candidate_name: str,
        candidate_email: str,
        created_by: str,
        lifetime: timedelta,
        variant: int | None = None,
        accommodation: Accommodation = NO_EXTRA_TIME,
    ) -> tuple[Invitation, str]:
        """A new invitation and its link token (shown only now). Raises InvitationError."""
        candidate_email = candidate_email.strip().lower()
        if not candidate_name.strip():
            raise InvitationError("an invitation needs the candidate's name")
        if len(candidate_name.strip()) > MAX_NAME:
            raise InvitationError(f"a candidate's name has at most {MAX_NAME} characters")
        if len(candidate_email) > MAX_EMAIL or not EMAIL.match(candidate_email):
            raise InvitationError(
                f"candidate email {candidate_email[:MAX_EMAIL]!r} is not an email address"
            )
        if variant is not None and not 0 <= variant <= MAX_VARIANT:
            raise InvitationError(f"a variant is a number from 0 to {MAX_VARIANT}, not {variant}")
        if not timedelta(minutes=5) <= lifetime <= MAX_LIFETIME:
            raise InvitationError(
                f"an invitation must be valid between 5 minutes and {MAX_LIFETIME.days} days, "
                f"not {lifetime}"
            )
        token = secrets.token_urlsafe(32)
        now = utcnow()
        row = InvitationRow(
            id=secrets.token_hex(6),
            firm=firm,
            challenge_id=challenge_id,
            candidate_name=candidate_name.strip(),
            candidate_email=candidate_email,
            created_by=created_by,
            created_at=now,
            expires_at=now + lifetime,
            digest=digest(token),
            variant=variant if variant is not None else secrets.randbelow(10_000),
            extra_minutes=accommodation.minutes or None,
            extra_percent=accommodation.percent or None,
        )
        with self.store.session() as s:
            s.add(row)
        return Invitation.from_row(row), token

    def get(self, invitation_id: str) -> Invitation:
        with self.store.session() as s:
            row = s.get(InvitationRow, invitation_id)
            if row is None:
                raise InvitationError(f"no invitation {invitation_id!r}")
            return Invitation.from_row(row)

    def find(self, token: str) -> Invitation | None:
        """The invitation of a link token, whatever its state (no side effect)."""
        with self.store.session() as s:
            row = s.scalar(select(InvitationRow).where(InvitationRow.digest == digest(token)))
            return Invitation.from_row(row) if row is not None else None

    def check(self, token: str) -> Invitation:
        """The invitation of a link that can still be redeemed, without redeeming it. Raises
        AccessDenied as :meth:`redeem` does."""
        with self.store.session() as s:
            row = s.scalar(select(InvitationRow).where(InvitationRow.digest == digest(token)))
            return Invitation.from_row(_redeemable(row))

    def redeem(self, token: str) -> Invitation:
        """Use the link once. Raises AccessDenied when it is unknown, used, expired or revoked."""
        with self.store.session() as s:
            row = _redeemable(
                s.scalar(
                    select(InvitationRow)
                    .where(InvitationRow.digest == digest(token))
                    .with_for_update()
                )
            )
            row.redeemed_at = utcnow()
            return Invitation.from_row(row)

    def usable(self, invitation_id: str) -> Invitation:
        """The invitation if a candidate may still use it. Raises AccessDenied."""
        with self.store.session() as s:
            row = s.get(InvitationRow, invitation_id)
            if row is None:
                raise AccessDenied("this invitation no longer exists")
            if row.run_id is None:
                _check_usable(row)
            elif row.revoked_at is not None:
                raise AccessDenied("this invitation was revoked")
            return Invitation.from_row(row)

    def attach_run(self, invitation_id: str, run_id: str, replacing: str | None = None) -> None:
        """Record the candidate's run, in place of the run ``replacing`` if given. Raises
        InvitationError when it already has another one."""
        with self.store.session() as s:
            row = s.get(InvitationRow, invitation_id, with_for_update=True)
            if row is None:
                raise InvitationError(f"no invitation {invitation_id!r}")
            if row.run_id not in (None, run_id, replacing):
                raise InvitationError(f"invitation {invitation_id} already has run {row.run_id}")
            row.run_id = run_id

    def revoke(self, invitation_id: str) -> None:
        with self.store.session() as s:
            row = s.get(InvitationRow, invitation_id)
            if row is None:
                raise InvitationError(f"no invitation {invitation_id!r}")
            row.revoked_at = row.revoked_at or utcnow()

    def list(self, firm: str | None = None) -> list[Invitation]:
        with self.store.session() as s:
            query = select(InvitationRow).order_by(InvitationRow.created_at.desc())
            if firm is not None:
                query = query.where(InvitationRow.firm == firm)
            return [Invitation.from_row(r) for r in s.scalars(query)]

    def firm_of_runs(self) -> dict[str, str]:
        """Run id -> firm, for every run started from an invitation."""
        with self.store.session() as s:
            rows = s.execute(
                select(InvitationRow.run_id, InvitationRow.firm).where(
                    InvitationRow.run_id.is_not(None)
                )
            )
            return {run_id: firm for run_id, firm in rows if run_id is not None}

    def for_run(self, run_id: str) -> Invitation | None:
        with self.store.session() as s:
            row = s.scalar(select(InvitationRow).where(InvitationRow.run_id == run_id))
            return Invitation.from_row(row) if row is not None else None


def _redeemable(row: InvitationRow | None) -> InvitationRow:
    if row is None:
        raise AccessDenied("this invitation link is not valid")
    _check_usable(row)
    if row.redeemed_at is not None:
        raise AccessDenied(
            "this invitation link was already used; open it in the browser you first "
            "used, or ask for a new invitation"
        )
    return row


def _check_usable(row: InvitationRow) -> None:
    if row.revoked_at is not None:
        raise AccessDenied("this invitation was revoked")
    if row.expires_at <= utcnow():
        raise AccessDenied(f"this invitation expired on {row.expires_at:%Y-%m-%d %H:%M} UTC")
