"""The audit log: who did what to which subject, and when. Append-only, so it can back up a
hiring decision: the one change ever made is erasing a forgotten candidate's personal data,
which is replaced by their alias (the entries themselves stay)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Integer, String, select
from sqlalchemy.orm import Mapped, mapped_column

from prodproven.runner.runs.store import Base, Store, utcnow


class AuditRow(Base):
    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column()
    actor: Mapped[str] = mapped_column(String(254), index=True)
    action: Mapped[str] = mapped_column(String(64), index=True)
    subject: Mapped[str] = mapped_column(String(64), index=True)
    data: Mapped[dict[str, Any]] = mapped_column(JSON)


@dataclass(frozen=True)
class AuditEntry:
    id: int
    at: datetime
    actor: str
    action: str
    subject: str
    data: dict[str, Any]


class Audit:
    def __init__(self, store: Store) -> None:
        self.store = store

    def record(
        self, actor: str, action: str, subject: str, data: dict[str, Any] | None = None
    ) -> None:
        with self.store.session() as s:
            s.add(
                AuditRow(at=utcnow(), actor=actor, action=action, subject=subject, data=data or {})
            )

    def entries(self, subject: str | None = None, limit: int = 500) -> list[AuditEntry]:
        """The newest entries first, optionally only those about ``subject``."""
        with self.store.session() as s:
            query = select(AuditRow).order_by(AuditRow.id.desc()).limit(limit)
            if subject is not None:
                query = query.where(AuditRow.subject == subject)
            return [
                AuditEntry(r.id, r.at, r.actor, r.action, r.subject, dict(r.data))
                for r in s.scalars(query)
            ]

    def pseudonymize(self, personal: list[str], alias: str) -> int:
        """Replace each of the ``personal`` strings in every entry's data by ``alias``;
        returns how many entries changed."""
        wanted = [p for p in personal if p]
        changed = 0
        with self.store.session() as s:
            for row in s.scalars(select(AuditRow)):
                data = _replaced(row.data, wanted, alias)
                if data != row.data:
                    row.data = data
                    changed += 1
        return changed


def _replaced(value: Any, personal: list[str], alias: str) -> Any:
    if isinstance(value, str):
        for text in personal:
            value = value.replace(text, alias)
        return value
    if isinstance(value, dict):
        return {k: _replaced(v, personal, alias) for k, v in value.items()}
    if isinstance(value, list):
        return [_replaced(v, personal, alias) for v in value]
    return value
