"""Assessors and their credentials: passwords (argon2id), API tokens and browser sessions.

Secrets are never stored: passwords as argon2 hashes, API tokens and session cookies as
SHA-256 digests (they are 256-bit random strings, so a fast hash is enough). A token is shown
once, when it is made, and expires (``TOKEN_DAYS`` after it is made unless asked otherwise;
tokens of older stores, made without an expiry, expire ``TOKEN_DAYS`` after they were made).
Every failure to authenticate raises AccessDenied with a message that does not say which half
(email or password) was wrong. Changing a password or removing an assessor ends their browser
sessions.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Delete, ForeignKey, Integer, String, Text, delete, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from prodproven.runner.errors import AccessDenied, AccountError
from prodproven.runner.runs.store import Base, Store, utcnow
from prodproven.sandbox.untrusted import finite

SCOPES = ("read", "invite", "review")
"""What an API token may do: ``read`` runs and results, ``invite`` candidates, ``review``
(notes and overrides). Assessors signed in through the browser have every scope."""

TOKEN_PREFIX = "ppt_"
TOKEN_DAYS = 90
"""Lifetime of a token made without one, and of the tokens of older stores (no expiry)."""
MAX_TOKEN_DAYS = 3650
MIN_PASSWORD = 10
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")

_hasher = PasswordHasher()


@cache
def _dummy_hash() -> str:
    """Verified against for unknown emails, to keep them as slow as known ones. Made on first
    use, not at import: every command imports this module, and a hash takes a while."""
    return _hasher.hash("a password nobody has, to keep unknown emails as slow as known")


class AssessorRow(Base):
    __tablename__ = "assessors"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    firm: Mapped[str] = mapped_column(String(64), index=True)
    password_hash: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column()


class ApiTokenRow(Base):
    __tablename__ = "api_tokens"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    assessor_id: Mapped[int] = mapped_column(ForeignKey("assessors.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    scopes: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column()
    last_used_at: Mapped[datetime | None] = mapped_column()
    revoked_at: Mapped[datetime | None] = mapped_column()
    expires_at: Mapped[datetime | None] = mapped_column()


class WebSessionRow(Base):
    __tablename__ = "web_sessions"
    digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    subject: Mapped[str] = mapped_column(String(64), index=True)
    csrf: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column()
    expires_at: Mapped[datetime] = mapped_column()


@dataclass(frozen=True)
class Assessor:
    id: int
    email: str
    name: str
    firm: str


@dataclass(frozen=True)
class ApiToken:
    id: int
    name: str
    assessor: Assessor
    scopes: tuple[str, ...]
    created_at: datetime
    last_used_at: datetime | None
    revoked: bool
    expires_at: datetime

    def state(self, now: datetime) -> str:
        """``revoked``, ``expired`` or ``live``."""
        if self.revoked:
            return "revoked"
        return "expired" if self.expires_at <= now else "live"


@dataclass(frozen=True)
class Removed:
    """What removing an assessor ended."""

    assessor: Assessor
    tokens: int
    sessions: int


@dataclass(frozen=True)
class WebSession:
    """A signed-in browser: an assessor (subject = assessor id) or a candidate (subject =
    invitation id). ``csrf`` is the secret every form of the session must echo."""

    kind: str
    subject: str
    csrf: str
    expires_at: datetime


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _assessor(row: AssessorRow) -> Assessor:
    return Assessor(id=row.id, email=row.email, name=row.name, firm=row.firm)


class Accounts:
    """The assessors of this installation, their tokens and the browsers' sessions."""

    def __init__(self, store: Store) -> None:
        self.store = store

    # assessors -------------------------------------------------------------------------------
    def add_assessor(self, email: str, name: str, firm: str, password: str) -> Assessor:
        """Raises AccountError for a malformed email, a short password or a taken email."""
        email = email.strip().lower()
        if not EMAIL.match(email):
            raise AccountError(f"assessor email {email!r} is not an email address")
        if not firm.strip():
            raise AccountError("an assessor needs a firm")
        _check_password(password)
        with self.store.session() as s:
            if s.scalar(select(AssessorRow).where(AssessorRow.email == email)) is not None:
                raise AccountError(f"an assessor with email {email!r} already exists")
            row = AssessorRow(
                email=email,
                name=name.strip() or email,
                firm=firm.strip(),
                password_hash=_hasher.hash(password),
                created_at=utcnow(),
            )
            s.add(row)
            s.flush()
            return _assessor(row)

    def set_password(self, email: str, password: str) -> int:
        """Set the password and end the assessor's browser sessions; returns how many ended.
        Raises AccountError."""
        _check_password(password)
        with self.store.session() as s:
            row = _owner(s, email)
            row.password_hash = _hasher.hash(password)
            return _end_sessions(s, row)

    def remove_assessor(self, email: str) -> Removed:
        """Delete the assessor with their API tokens and browser sessions. What they did
        (invitations, reviews, the audit log) stays, under their email. Raises AccountError."""
        with self.store.session() as s:
            row = _owner(s, email)
            tokens = _deleted(s, delete(ApiTokenRow).where(ApiTokenRow.assessor_id == row.id))
            sessions = _end_sessions(s, row)
            s.delete(row)
            return Removed(_assessor(row), tokens, sessions)

    def assessors(self, firm: str | None = None) -> list[Assessor]:
        with self.store.session() as s:
            query = select(AssessorRow).order_by(AssessorRow.email)
            if firm is not None:
                query = query.where(AssessorRow.firm == firm)
            return [_assessor(r) for r in s.scalars(query)]

    def assessor(self, assessor_id: int) -> Assessor:
        with self.store.session() as s:
            row = s.get(AssessorRow, assessor_id)
            if row is None:
                raise AccessDenied("this assessor no longer exists")
            return _assessor(row)

    def authenticate(self, email: str, password: str) -> Assessor:
        """The assessor with this email and password. Raises AccessDenied."""
        with self.store.session() as s:
            row = s.scalar(select(AssessorRow).where(AssessorRow.email == email.strip().lower()))
            stored = row.password_hash if row is not None else _dummy_hash()
            try:
                _hasher.verify(stored, password)
            except (VerificationError, InvalidHashError):
                raise AccessDenied("wrong email or password") from None
            if row is None:
                raise AccessDenied("wrong email or password")
            if _hasher.check_needs_rehash(row.password_hash):
                row.password_hash = _hasher.hash(password)
            return _assessor(row)

    # API tokens ------------------------------------------------------------------------------
    def create_token(
        self, email: str, name: str, scopes: tuple[str, ...], days: float = TOKEN_DAYS
    ) -> tuple[ApiToken, str]:
        """A new token for the assessor, valid for ``days``; returns it with its secret (shown
        only now). Raises AccountError, UntrustedInput (``days`` not in 1..MAX_TOKEN_DAYS)."""
        unknown = sorted(set(scopes) - set(SCOPES))
        if unknown or not scopes:
            raise AccountError(f"token scopes {unknown or '[]'} invalid; choose from {SCOPES}")
        finite(days, what="token lifetime in days", low=1, high=MAX_TOKEN_DAYS)
        secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
        now = utcnow()
        with self.store.session() as s:
            owner = _owner(s, email)
            row = ApiTokenRow(
                assessor_id=owner.id,
                name=name,
                digest=digest(secret),
                scopes=" ".join(s_ for s_ in SCOPES if s_ in scopes),
                created_at=now,
                expires_at=now + timedelta(days=days),
            )
            s.add(row)
            s.flush()
            return _token(row, owner), secret

    def tokens(self, email: str) -> list[ApiToken]:
        """The assessor's tokens, oldest first (revoked and expired ones included)."""
        with self.store.session() as s:
            owner = _owner(s, email)
            rows = s.scalars(
                select(ApiTokenRow)
                .where(ApiTokenRow.assessor_id == owner.id)
                .order_by(ApiTokenRow.id)
            )
            return [_token(r, owner) for r in rows]

    def revoke_token(self, token_id: int) -> ApiToken:
        """Revoke the token (revoking twice is harmless); returns it. Raises AccountError."""
        with self.store.session() as s:
            row = s.get(ApiTokenRow, token_id)
            owner = s.get(AssessorRow, row.assessor_id) if row is not None else None
            if row is None or owner is None:
                raise AccountError(f"no API token {token_id}")
            row.revoked_at = row.revoked_at or utcnow()
            return _token(row, owner)

    def token(self, secret: str) -> ApiToken:
        """The live token with this secret. Raises AccessDenied."""
        with self.store.session() as s:
            row = s.scalar(select(ApiTokenRow).where(ApiTokenRow.digest == digest(secret)))
            if row is None or row.revoked_at is not None:
                raise AccessDenied("invalid or revoked API token")
            owner = s.get(AssessorRow, row.assessor_id)
            if owner is None:
                raise AccessDenied("invalid or revoked API token")
            found, now = _token(row, owner), utcnow()
            if found.state(now) == "expired":
                raise AccessDenied(
                    f"this API token expired on {found.expires_at:%Y-%m-%d}; make a new one "
                    "with `prodproven assessor token EMAIL`"
                )
            row.last_used_at = now
            return _token(row, owner)

    # browser sessions ------------------------------------------------------------------------
    def open_session(self, kind: str, subject: str, lifetime: timedelta) -> tuple[str, WebSession]:
        """A new session; returns the cookie value (shown only now) and the session.
        Expired sessions are deleted on the way."""
        cookie = secrets.token_urlsafe(32)
        now = utcnow()
        session = WebSession(kind, subject, secrets.token_urlsafe(32), now + lifetime)
        with self.store.session() as s:
            s.execute(delete(WebSessionRow).where(WebSessionRow.expires_at <= now))
            s.add(
                WebSessionRow(
                    digest=digest(cookie),
                    kind=kind,
                    subject=subject,
                    csrf=session.csrf,
                    created_at=now,
                    expires_at=session.expires_at,
                )
            )
        return cookie, session

    def session(self, cookie: str, kind: str) -> WebSession:
        """The live session of this cookie, of this kind. Raises AccessDenied."""
        with self.store.session() as s:
            row = s.get(WebSessionRow, digest(cookie))
            if row is None or row.kind != kind or row.expires_at <= utcnow():
                raise AccessDenied("not signed in, or the session expired")
            return WebSession(row.kind, row.subject, row.csrf, row.expires_at)

    def close_session(self, cookie: str) -> None:
        with self.store.session() as s:
            row = s.get(WebSessionRow, digest(cookie))
            if row is not None:
                s.delete(row)


def csrf_matches(session: WebSession, sent: str | None) -> bool:
    return sent is not None and hmac.compare_digest(session.csrf.encode(), sent.encode())


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"a password needs at least {MIN_PASSWORD} characters")


def _owner(s: Session, email: str) -> AssessorRow:
    """The assessor with this email. Raises AccountError."""
    row = s.scalar(select(AssessorRow).where(AssessorRow.email == email.strip().lower()))
    if row is None:
        raise AccountError(f"no assessor with email {email!r}")
    return row


def _end_sessions(s: Session, row: AssessorRow) -> int:
    """Delete the assessor's browser sessions; returns how many there were."""
    return _deleted(
        s,
        delete(WebSessionRow).where(
            WebSessionRow.kind == "assessor", WebSessionRow.subject == str(row.id)
        ),
    )


def _deleted(s: Session, statement: Delete) -> int:
    """Run ``statement`` in the session's transaction; returns how many rows it deleted."""
    return int(s.connection().execute(statement).rowcount)


def _token(row: ApiTokenRow, owner: AssessorRow) -> ApiToken:
    return ApiToken(
        id=row.id,
        name=row.name,
        assessor=_assessor(owner),
        scopes=tuple(row.scopes.split()),
        created_at=row.created_at,
        last_used_at=row.last_used_at,
        revoked=row.revoked_at is not None,
        expires_at=row.expires_at or row.created_at + timedelta(days=TOKEN_DAYS),
    )
