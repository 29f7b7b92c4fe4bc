"""Each firm's competency frameworks and role profiles, in the store
(runner/spec/framework.py has their model; docs/teams.md#frameworks-and-role-profiles).

Every firm sees the built-in framework, which is not stored and cannot be changed, and its own.
A role profile is checked against its framework when saved; a framework a role profile uses
cannot be deleted, nor changed to lose a competency the profile requires. Each change is
written to the audit log, about the firm.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, String, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from prodproven.runner.people.audit import Audit
from prodproven.runner.runs.store import Base, Store, utcnow
from prodproven.runner.spec.framework import (
    BUILTIN,
    BUILTIN_ID,
    Framework,
    FrameworkError,
    FrameworkNotFound,
    RoleProfile,
    RoleProfileNotFound,
)


class FrameworkRow(Base):
    __tablename__ = "frameworks"
    firm: Mapped[str] = mapped_column(String(64), primary_key=True)
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    document: Mapped[dict[str, object]] = mapped_column(JSON)
    updated_by: Mapped[str] = mapped_column(String(254))
    updated_at: Mapped[datetime] = mapped_column()


class RoleProfileRow(Base):
    __tablename__ = "role_profiles"
    firm: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    framework: Mapped[str] = mapped_column(String(32))
    document: Mapped[dict[str, object]] = mapped_column(JSON)
    updated_by: Mapped[str] = mapped_column(String(254))
    updated_at: Mapped[datetime] = mapped_column()


class Frameworks:
    """A firm's frameworks: the built-in one first, then its own by id."""

    def __init__(self, store: Store, audit: Audit) -> None:
        self.store = store
        self.audit = audit

    def all(self, firm: str) -> list[Framework]:
        with self.store.session() as s:
            rows = s.scalars(
                select(FrameworkRow).where(FrameworkRow.firm == firm).order_by(FrameworkRow.id)
            )
            return [BUILTIN, *(Framework.model_validate(r.document) for r in rows)]

    def get(self, firm: str, framework_id: str) -> Framework:
        """Raises FrameworkNotFound."""
        if framework_id == BUILTIN_ID:
            return BUILTIN
        with self.store.session() as s:
            row = s.get(FrameworkRow, (firm, framework_id))
            if row is None:
                raise FrameworkNotFound(f"no framework {framework_id!r}")
            return Framework.model_validate(row.document)

    def save(self, firm: str, framework: Framework, who: str) -> Framework:
        """Add or replace the firm's framework of that id. Raises FrameworkError for the
        built-in id, or when a role profile requires a competency it no longer has."""
        if framework.id == BUILTIN_ID:
            raise FrameworkError(f"{BUILTIN_ID!r} is the built-in framework; choose another id")
        with self.store.session() as s:
            for profile in _profiles(s, firm, framework.id):
                profile.checked(framework)
            row = s.get(FrameworkRow, (firm, framework.id))
            if row is None:
                row = FrameworkRow(firm=firm, id=framework.id)
                s.add(row)
            row.document = framework.model_dump(mode="json")
            row.updated_by, row.updated_at = who, utcnow()
        self.audit.record(who, "framework.save", firm, {"framework": framework.id})
        return framework

    def delete(self, firm: str, framework_id: str, who: str) -> None:
        """Raises FrameworkNotFound, FrameworkError for the built-in one or one a role profile
        uses."""
        if framework_id == BUILTIN_ID:
            raise FrameworkError(f"{BUILTIN_ID!r} is the built-in framework; it stays")
        with self.store.session() as s:
            row = s.get(FrameworkRow, (firm, framework_id))
            if row is None:
                raise FrameworkNotFound(f"no framework {framework_id!r}")
            users = [p.name for p in _profiles(s, firm, framework_id)]
            if users:
                raise FrameworkError(
                    f"framework {framework_id!r} is used by role profiles {users}; "
                    "delete or change them first"
                )
            s.delete(row)
        self.audit.record(who, "framework.delete", firm, {"framework": framework_id})


class RoleProfiles:
    """A firm's role profiles, by name."""

    def __init__(self, frameworks: Frameworks) -> None:
        self.frameworks = frameworks
        self.store = frameworks.store

    def all(self, firm: str) -> list[RoleProfile]:
        with self.store.session() as s:
            rows = s.scalars(
                select(RoleProfileRow)
                .where(RoleProfileRow.firm == firm)
                .order_by(RoleProfileRow.name)
            )
            return [RoleProfile.model_validate(r.document) for r in rows]

    def get(self, firm: str, name: str) -> RoleProfile:
        """Raises RoleProfileNotFound."""
        with self.store.session() as s:
            row = s.get(RoleProfileRow, (firm, name))
            if row is None:
                raise RoleProfileNotFound(f"no role profile {name!r}")
            return RoleProfile.model_validate(row.document)

    def save(self, firm: str, profile: RoleProfile, who: str) -> RoleProfile:
        """Add or replace the firm's role profile of that name. Raises FrameworkNotFound,
        FrameworkError for a competency its framework does not have."""
        profile.checked(self.frameworks.get(firm, profile.framework))
        with self.store.session() as s:
            row = s.get(RoleProfileRow, (firm, profile.name))
            if row is None:
                row = RoleProfileRow(firm=firm, name=profile.name)
                s.add(row)
            row.framework = profile.framework
            row.document = profile.model_dump(mode="json")
            row.updated_by, row.updated_at = who, utcnow()
        self.frameworks.audit.record(who, "role_profile.save", firm, {"name": profile.name})
        return profile

    def delete(self, firm: str, name: str, who: str) -> None:
        """Raises RoleProfileNotFound."""
        with self.store.session() as s:
            row = s.get(RoleProfileRow, (firm, name))
            if row is None:
                raise RoleProfileNotFound(f"no role profile {name!r}")
            s.delete(row)
        self.frameworks.audit.record(who, "role_profile.delete", firm, {"name": name})


def _profiles(s: Session, firm: str, framework_id: str) -> list[RoleProfile]:
    rows = s.scalars(
        select(RoleProfileRow).where(
            RoleProfileRow.firm == firm, RoleProfileRow.framework == framework_id
        )
    )
    return [RoleProfile.model_validate(r.document) for r in rows]
