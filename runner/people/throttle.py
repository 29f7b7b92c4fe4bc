"""Sign-in throttling: failed sign-ins are counted per account and per client address, in the
store, so a restart forgets nothing.

- An account is the email as typed (trimmed, lower case), whether or not an assessor has it:
  an unknown email is throttled and locked exactly like a known one, so the answers never tell
  which emails exist.
- The first ``FREE_FAILURES`` failures cost nothing. After ``n`` failures the next attempt is
  refused until ``2 ** (n - FREE_FAILURES)`` seconds after the last one (at most
  ``MAX_DELAY_S``). The request is never slowed down: it is refused at once, saying how long
  to wait.
- An account with ``LOCK_AFTER`` failures is locked: only ``prodproven assessor unlock EMAIL``
  lifts it. Addresses are only delayed, never locked (many people may share one).
- A success resets the account's counter. Counters that are not locked are forgotten
  ``FORGET_AFTER`` after their last failure.

Each attempt let through counts as a failure until it succeeds, so guesses sent in parallel
cannot slip past the delay.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from sqlalchemy import Integer, String, delete
from sqlalchemy.orm import Mapped, mapped_column

from prodproven.runner.errors import SignInThrottled
from prodproven.runner.runs.store import Base, Store, utcnow

FREE_FAILURES = 5
LOCK_AFTER = 10
MAX_DELAY_S = 900
FORGET_AFTER = timedelta(days=1)
LOCKED = (
    "too many attempts: sign-in to this account is locked until an operator unlocks it "
    "(`prodproven assessor unlock EMAIL`)"
)


class SignInCounterRow(Base):
    """Failed sign-ins of one account (``account:EMAIL``) or address (``address:HOST``)."""

    __tablename__ = "sign_in_counters"
    key: Mapped[str] = mapped_column(String(300), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer)
    last_at: Mapped[datetime] = mapped_column(index=True)
    locked_at: Mapped[datetime | None] = mapped_column()


def delay_after(failures: int) -> int:
    """Seconds an attempt must wait after the last of ``failures`` failures."""
    if failures < FREE_FAILURES:
        return 0
    return int(min(2 ** min(failures - FREE_FAILURES, 20), MAX_DELAY_S))


def _account(email: str) -> str:
    return "account:" + email.strip().lower()[:254]


def _address(address: str) -> str:
    return "address:" + address[:254]


class Throttle:
    def __init__(self, store: Store) -> None:
        self.store = store

    def admit(self, email: str, address: str) -> None:
        """Let one sign-in attempt through, counted as failed until :meth:`succeeded`.
        Raises SignInThrottled (with the seconds to wait, or None when the account is
        locked)."""
        keys = (_account(email), _address(address))
        now = utcnow()
        with self.store.session() as s:
            # a write first: SQLite then holds its write lock, so attempts are counted one by one
            s.execute(
                delete(SignInCounterRow).where(
                    SignInCounterRow.locked_at.is_(None),
                    SignInCounterRow.last_at < now - FORGET_AFTER,
                )
            )
            rows = [s.get(SignInCounterRow, key, with_for_update=True) for key in keys]
            if rows[0] is not None and rows[0].locked_at is not None:
                raise SignInThrottled(LOCKED, None)
            wait = max(_remaining(row, now) for row in rows)
            if wait > 0:
                raise SignInThrottled(f"too many attempts, try again in {wait} s", wait)
            for key, row in zip(keys, rows, strict=True):
                if row is None:
                    s.add(SignInCounterRow(key=key, failures=1, last_at=now))
                else:
                    row.failures += 1
                    row.last_at = now

    def failed(self, email: str) -> bool:
        """The admitted attempt failed; True when that locked the account."""
        with self.store.session() as s:
            row = s.get(SignInCounterRow, _account(email), with_for_update=True)
            if row is None or row.locked_at is not None or row.failures < LOCK_AFTER:
                return False
            row.locked_at = utcnow()
            return True

    def succeeded(self, email: str, address: str) -> None:
        """The admitted attempt succeeded: the account starts afresh, and the address's
        attempt no longer counts as a failure."""
        with self.store.session() as s:
            s.execute(delete(SignInCounterRow).where(SignInCounterRow.key == _account(email)))
            row = s.get(SignInCounterRow, _address(address), with_for_update=True)
            if row is not None:
                row.failures = max(0, row.failures - 1)

    def unlock(self, email: str) -> bool:
        """Forget the account's failures; True when it was locked."""
        with self.store.session() as s:
            row = s.get(SignInCounterRow, _account(email), with_for_update=True)
            if row is None:
                return False
            s.delete(row)
            return row.locked_at is not None


def _remaining(row: SignInCounterRow | None, now: datetime) -> int:
    """Whole seconds until ``row`` lets the next attempt through (0: now)."""
    if row is None:
        return 0
    due = row.last_at + timedelta(seconds=delay_after(row.failures))
    return max(0, math.ceil((due - now).total_seconds()))
