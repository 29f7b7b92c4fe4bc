"""Each firm's teams, in the store (docs/teams.md#teams-and-skill-gaps): a named group of
candidates, with the firm's role profiles it is held against (optional).

A member is kept by the candidate's profile id, so a team follows its members through any
change of name. The role profiles a team names must exist when it is saved. Each change is
written to the audit log, about the firm.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import JSON, Select, String, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from prodproven.runner.errors import ProdprovenError
from prodproven.runner.people.candidates import Candidate, CandidateRow
from prodproven.runner.people.frameworks import RoleProfiles
from prodproven.runner.runs.store import Base, utcnow

MAX_NAME = 100
MAX_TEXT = 2000


class TeamError(ProdprovenError):
    """A team cannot be saved or changed as asked (the message says which and why)."""


class TeamNotFound(TeamError):
    """The firm has no team of that name."""


class TeamRow(Base):
    __tablename__ = "teams"
    firm: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(MAX_NAME), primary_key=True)
    description: Mapped[str] = mapped_column(String(MAX_TEXT))
    role_profiles: Mapped[list[str]] = mapped_column(JSON)
    updated_by: Mapped[str] = mapped_column(String(254))
    updated_at: Mapped[datetime] = mapped_column()


class TeamMemberRow(Base):
    __tablename__ = "team_members"
    firm: Mapped[str] = mapped_column(String(64), primary_key=True)
    team: Mapped[str] = mapped_column(String(MAX_NAME), primary_key=True)
    candidate_id: Mapped[str] = mapped_column(String(16), primary_key=True)
    added_by: Mapped[str] = mapped_column(String(254))
    added_at: Mapped[datetime] = mapped_column()


@dataclass(frozen=True)
class Team:
    firm: str
    name: str
    description: str
    role_profiles: list[str]
    members: list[str]
    """The members' candidate names, sorted."""
    updated_by: str
    updated_at: datetime


class Teams:
    """A firm's teams, by name."""

    def __init__(self, profiles: RoleProfiles) -> None:
        self.profiles = profiles
        self.store = profiles.store
        self.audit = profiles.frameworks.audit

    def all(self, firm: str) -> list[Team]:
        with self.store.session() as s:
            rows = s.scalars(select(TeamRow).where(TeamRow.firm == firm).order_by(TeamRow.name))
            return [_team(s, row) for row in rows]

    def get(self, firm: str, name: str) -> Team:
        """Raises TeamNotFound."""
        with self.store.session() as s:
            return _team(s, _row(s, firm, name))

    def save(
        self, firm: str, name: str, role_profiles: Sequence[str], description: str, who: str
    ) -> Team:
        """Add the team, or replace its description and role profiles (its members stay).
        Raises TeamError for a name or description out of bounds, RoleProfileNotFound."""
        _check(name, description)
        for profile in role_profiles:
            self.profiles.get(firm, profile)
        with self.store.session() as s:
            row = s.get(TeamRow, (firm, name))
            if row is None:
                row = TeamRow(firm=firm, name=name)
                s.add(row)
            row.description, row.role_profiles = description, list(dict.fromkeys(role_profiles))
            row.updated_by, row.updated_at = who, utcnow()
            s.flush()
            team = _team(s, row)
        self.audit.record(
            who, "team.save", firm, {"team": name, "role_profiles": team.role_profiles}
        )
        return team

    def delete(self, firm: str, name: str, who: str) -> None:
        """Delete the team and its memberships (not the candidates). Raises TeamNotFound."""
        with self.store.session() as s:
            s.delete(_row(s, firm, name))
            for member in s.scalars(_members(firm, name)):
                s.delete(member)
        self.audit.record(who, "team.delete", firm, {"team": name})

    def add(self, firm: str, name: str, members: Sequence[Candidate], who: str) -> Team:
        """Add ``members`` (already members stay as they are). Raises TeamNotFound."""
        with self.store.session() as s:
            row = _row(s, firm, name)
            present = {m.candidate_id for m in s.scalars(_members(firm, name))}
            for candidate in members:
                if candidate.id not in present:
                    present.add(candidate.id)
                    s.add(TeamMemberRow(firm=firm, team=name, candidate_id=candidate.id,
                                        added_by=who, added_at=utcnow()))  # fmt: skip
            s.flush()
            team = _team(s, row)
        self.audit.record(who, "team.add", firm, {"team": name, "added": len(members)})
        return team

    def remove(self, firm: str, name: str, members: Sequence[Candidate], who: str) -> Team:
        """Raises TeamNotFound, TeamError naming a candidate who is not a member (and removes
        nobody then)."""
        with self.store.session() as s:
            row = _row(s, firm, name)
            present = {m.candidate_id: m for m in s.scalars(_members(firm, name))}
            strangers = [c.name for c in members if c.id not in present]
            if strangers:
                raise TeamError(f"team {name!r} has no member {', '.join(map(repr, strangers))}")
            for candidate in members:
                s.delete(present[candidate.id])
            s.flush()
            team = _team(s, row)
        self.audit.record(who, "team.remove", firm, {"team": name, "removed": len(members)})
        return team

    def forget(self, candidate: Candidate) -> int:
        """End ``candidate``'s memberships of every firm's teams; how many there were."""
        with self.store.session() as s:
            rows = list(
                s.scalars(select(TeamMemberRow).where(TeamMemberRow.candidate_id == candidate.id))
            )
            for row in rows:
                s.delete(row)
            return len(rows)


def _check(name: str, description: str) -> None:
    if not 0 < len(name) <= MAX_NAME or name != name.strip():
        raise TeamError(
            f"a team's name is 1 to {MAX_NAME} characters without spaces at either end, "
            f"not {name[:MAX_NAME]!r}"
        )
    if len(description) > MAX_TEXT:
        raise TeamError(f"team {name!r}: a description is at most {MAX_TEXT} characters")


def _row(s: Session, firm: str, name: str) -> TeamRow:
    row = s.get(TeamRow, (firm, name))
    if row is None:
        raise TeamNotFound(f"no team {name!r}")
    return row


def _members(firm: str, name: str) -> Select[TeamMemberRow]:
    return select(TeamMemberRow).where(TeamMemberRow.firm == firm, TeamMemberRow.team == name)


def _team(s: Session, row: TeamRow) -> Team:
    ids = select(TeamMemberRow.candidate_id).where(
        TeamMemberRow.firm == row.firm, TeamMemberRow.team == row.name
    )
    names = s.scalars(select(CandidateRow.name).where(CandidateRow.id.in_(ids)))
    return Team(
        row.firm,
        row.name,
        row.description,
        list(row.role_profiles),
        sorted(names),
        row.updated_by,
        row.updated_at,
    )
