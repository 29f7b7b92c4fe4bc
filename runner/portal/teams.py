"""Teams and skill gaps as the portal hands them out (docs/teams.md#teams-and-skill-gaps): an
assessor reads their firm's teams (``read`` scope) and changes them (``review`` scope); the
operator at the CLI names the firm (the installation's ``firm`` setting unless told). Another
firm's team, or a candidate the firm has neither invited nor run, is "not found".

A member's standing counts only the runs of the team's firm: a firm's teams and gaps never show
what a person did for another firm.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from prodproven.runner.errors import CandidateNotFound
from prodproven.runner.people import track_record
from prodproven.runner.people.candidates import Candidate
from prodproven.runner.people.frameworks import Frameworks, RoleProfiles
from prodproven.runner.people.teams import Team, Teams
from prodproven.runner.portal.access import Access, Actor, Records
from prodproven.runner.portal.catalogue import Catalogue
from prodproven.runner.portal.frameworks import FrameworkDesk
from prodproven.runner.runs.store import utcnow
from prodproven.runner.spec.framework import BUILTIN, CompetencyDef

CSV_COLUMNS = (
    "member", "competency", "level", "value", "interval_low", "interval_high", "lapse_date",
    "state",
)  # fmt: skip


@dataclass(frozen=True)
class Cell:
    """One member's standing in one competency."""

    competency: str
    state: str
    """``current``, ``lapsed`` (no evidence younger than the validity period) or ``never
    measured``."""
    level: int | None
    """The framework's level (1-5) of the value; None when not current, or for a competency
    of no framework the firm has."""
    value: float | None
    interval: tuple[float, float] | None
    lapsed_at: datetime | None
    """When the newest evidence stops (or stopped) counting; None when never measured."""


@dataclass(frozen=True)
class TeamGrid:
    """A team's members by competency: ``cells[member]`` follows ``competencies``."""

    team: Team
    competencies: list[str]
    cells: dict[str, list[Cell]]

    def csv(self) -> str:
        """One row per member and competency, in ``CSV_COLUMNS``."""
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(CSV_COLUMNS)
        for member, cells in self.cells.items():
            for c in cells:
                low, high = c.interval or (None, None)
                lapse = "" if c.lapsed_at is None else f"{c.lapsed_at:%Y-%m-%d}"
                level = "" if c.level is None else str(c.level)
                numbers = [_number(x) for x in (c.value, low, high)]
                writer.writerow([member, c.competency, level, *numbers, lapse, c.state])
        return buffer.getvalue()


@dataclass(frozen=True)
class Gap:
    """A competency a role profile requires that a person does not show now."""

    competency: str
    label: str
    required: int
    kind: str
    """``missing`` (never measured), ``lapsed`` or ``below`` (current, under the level)."""
    cell: Cell
    challenges: list[str]
    """The ids of the challenges whose graders measure it."""


@dataclass(frozen=True)
class Gaps:
    candidate: str
    role_profile: str
    gaps: list[Gap]
    met: list[str]
    """The required competencies shown at or above their level now."""


@dataclass(frozen=True)
class Requirement:
    """One competency a role profile requires, and how many of a team's members reach it."""

    competency: str
    label: str
    required: int
    at_level: int


@dataclass(frozen=True)
class Coverage:
    """How a team covers one of its role profiles now."""

    role_profile: str
    meeting: list[str]
    """The members at or above every required level."""
    members: int
    requirements: list[Requirement]


@dataclass(frozen=True)
class TeamTrend:
    """A team's mean value per competency at each quarter's end, oldest first."""

    quarters: list[str]
    """Each quarter as people read it, e.g. ``2026 Q3``; the last is the quarter under way."""
    ends: list[datetime]
    """When each quarter's value is taken: its last moment, for the last quarter now."""
    values: dict[str, list[float | None]]
    """Competency -> the mean of the current values of the members measured in it at each end
    (None where no member's evidence counted then), for each competency a member was ever
    measured in."""


class TeamDesk:
    """A firm's teams, their members' standings, and a person's gaps against a role profile."""

    def __init__(
        self, records: Records, access: Access, catalogue: Catalogue, frameworks: FrameworkDesk
    ) -> None:
        self._records = records
        self._access = access
        self._catalogue = catalogue
        self._desk = frameworks
        self._profiles = RoleProfiles(Frameworks(records.store, records.audit))
        self._teams = Teams(self._profiles)

    def teams(self, actor: Actor, firm: str | None = None) -> list[Team]:
        actor.require("read")
        return self._teams.all(self._desk.firm(actor, firm))

    def team(self, actor: Actor, name: str, firm: str | None = None) -> Team:
        """Raises TeamNotFound."""
        actor.require("read")
        return self._teams.get(self._desk.firm(actor, firm), name)

    def save(
        self,
        actor: Actor,
        name: str,
        role_profiles: Sequence[str] = (),
        description: str = "",
        firm: str | None = None,
    ) -> Team:
        """Add or change a team (its members stay). Raises TeamError, RoleProfileNotFound."""
        actor.require("review")
        where = self._desk.firm(actor, firm)
        return self._teams.save(where, name, role_profiles, description, actor.label)

    def delete(self, actor: Actor, name: str, firm: str | None = None) -> None:
        """Raises TeamNotFound."""
        actor.require("review")
        self._teams.delete(self._desk.firm(actor, firm), name, actor.label)

    def add(self, actor: Actor, name: str, members: Sequence[str], firm: str | None = None) -> Team:
        """Raises TeamNotFound, CandidateNotFound for a name the firm does not know."""
        actor.require("review")
        where = self._desk.firm(actor, firm)
        found = [self.known(actor, where, m) for m in members]
        return self._teams.add(where, name, found, actor.label)

    def remove(
        self, actor: Actor, name: str, members: Sequence[str], firm: str | None = None
    ) -> Team:
        """Raises TeamNotFound, CandidateNotFound, TeamError for one who is not a member."""
        actor.require("review")
        where = self._desk.firm(actor, firm)
        found = [self.known(actor, where, m) for m in members]
        return self._teams.remove(where, name, found, actor.label)

    def grid(self, actor: Actor, name: str, firm: str | None = None) -> TeamGrid:
        """The team's members by competency: the built-in ones, then those its role profiles
        require (one deleted since is passed over), then any other a member was measured in.
        Raises TeamNotFound."""
        actor.require("read")
        where = self._desk.firm(actor, firm)
        team = self._teams.get(where, name)
        return self._grid(actor, where, team, self._members_evidence(where, team))

    def dashboard(
        self, actor: Actor, name: str, quarters: int = 8, firm: str | None = None
    ) -> tuple[TeamGrid, TeamTrend]:
        """The team's :meth:`grid` and :meth:`trend`, its members' evidence read once.
        Raises TeamNotFound, ValueError for fewer than one quarter."""
        actor.require("read")
        where = self._desk.firm(actor, firm)
        team = self._teams.get(where, name)
        evidence = self._members_evidence(where, team)
        return self._grid(actor, where, team, evidence), self._trend(evidence, quarters)

    def _grid(
        self,
        actor: Actor,
        where: str,
        team: Team,
        evidence: Mapping[str, list[track_record.Evidence]],
    ) -> TeamGrid:
        defs = self._definitions(actor, where)
        standings = {m: _standings(found, self._months) for m, found in evidence.items()}
        required = [
            self._desk.framework(actor, p.framework, where).qualified(c)
            for p in self._profiles.all(where)
            if p.name in team.role_profiles
            for c in p.requires
        ]
        measured = sorted({c for s in standings.values() for c in s})
        order = list(dict.fromkeys([c.id for c in BUILTIN.competencies] + required + measured))
        cells = {m: [_cell(c, standings[m], defs) for c in order] for m in team.members}
        return TeamGrid(team, order, cells)

    def coverage(self, actor: Actor, grid: TeamGrid, firm: str | None = None) -> list[Coverage]:
        """For each of the team's role profiles (one deleted since is passed over): the members
        meeting it, and per required competency how many members are at level, from ``grid``
        (the team's :meth:`grid`)."""
        actor.require("read")
        where = self._desk.firm(actor, firm)
        column = {c: i for i, c in enumerate(grid.competencies)}
        found = []
        for profile in self._profiles.all(where):
            if profile.name not in grid.team.role_profiles:
                continue
            framework = self._desk.framework(actor, profile.framework, where)
            needs = {framework.qualified(c): (c, lv) for c, lv in profile.requires.items()}
            meets = {
                m: {q: _shortfall(cells[column[q]], lv) is None for q, (_, lv) in needs.items()}
                for m, cells in grid.cells.items()
            }
            requirements = [
                Requirement(q, framework.competency(c).label, lv, sum(m[q] for m in meets.values()))
                for q, (c, lv) in needs.items()
            ]
            meeting = [m for m, ok in meets.items() if all(ok.values())]
            found.append(Coverage(profile.name, meeting, len(grid.cells), requirements))
        return found

    def trend(
        self, actor: Actor, name: str, quarters: int = 8, firm: str | None = None
    ) -> TeamTrend:
        """The team's mean value per competency at the end of each of the last ``quarters``
        calendar quarters (the current one taken now), from each member's track record at that
        moment: only evidence then younger than the validity period counts, weighted by its age
        then. Raises TeamNotFound, ValueError for fewer than one quarter."""
        actor.require("read")
        where = self._desk.firm(actor, firm)
        team = self._teams.get(where, name)
        return self._trend(self._members_evidence(where, team), quarters)

    def _trend(
        self, evidence: Mapping[str, list[track_record.Evidence]], quarters: int
    ) -> TeamTrend:
        if quarters < 1:
            raise ValueError(f"a trend needs at least one quarter, not {quarters}")
        labels, ends = _quarter_ends(utcnow(), quarters)
        months = self._months
        measured = sorted({e.competency for found in evidence.values() for e in found})
        values: dict[str, list[float | None]] = {}
        for competency in measured:
            of_members = [
                [e for e in found if e.competency == competency] for found in evidence.values()
            ]
            values[competency] = [_mean_at(of_members, end, months) for end in ends]
        return TeamTrend(labels, ends, values)

    def gaps(self, actor: Actor, candidate: str, role: str, firm: str | None = None) -> Gaps:
        """What ``candidate`` lacks now for role profile ``role``, each gap with the challenges
        that measure it. Raises CandidateNotFound, RoleProfileNotFound."""
        actor.require("read")
        where = self._desk.firm(actor, firm)
        person = self.known(actor, where, candidate)
        profile = self._profiles.get(where, role)
        framework = self._desk.framework(actor, profile.framework, where)
        standings = self.standings(where, person.name)
        measures = self.measures()
        gaps, met = [], []
        for competency, required in profile.requires.items():
            qualified = framework.qualified(competency)
            cell = _cell(qualified, standings, {qualified: framework.competency(competency)})
            kind = _shortfall(cell, required)
            if kind is None:
                met.append(qualified)
                continue
            label = framework.competency(competency).label
            challenges = measures.get(qualified, [])
            gaps.append(Gap(qualified, label, required, kind, cell, challenges))
        return Gaps(person.name, profile.name, gaps, met)

    def known(self, actor: Actor, firm: str, name: str) -> Candidate:
        """The candidate: any profile for the operator; for an assessor one that ``firm``
        invited or has a run of. Raises CandidateNotFound (for another firm's candidate the
        same as for nobody)."""
        candidates = self._records.candidates
        if actor.firm is None:
            return candidates.get(name)
        invited = any(i.candidate_name == name for i in self._records.invitations.list(firm))
        firms = self._access.firms()
        ran = any(self._access.firm_of(r.id, firms) == firm for r in candidates.runs(name))
        if not (invited or ran):
            raise CandidateNotFound(f"no candidate {name!r}")
        return candidates.ensure(name)

    def _evidence(
        self, firm: str, name: str, firms: dict[str, str] | None = None
    ) -> list[track_record.Evidence]:
        """``name``'s evidence from the runs of ``firm`` only (``firms``: the firm of each
        run, read when not given)."""
        firms = self._access.firms() if firms is None else firms
        runs = {
            r.id
            for r in self._records.candidates.runs(name)
            if self._access.firm_of(r.id, firms) == firm
        }
        return [e for e in self._records.candidates.evidence(name) if e.run_id in runs]

    def _members_evidence(self, firm: str, team: Team) -> dict[str, list[track_record.Evidence]]:
        firms = self._access.firms()
        return {m: self._evidence(firm, m, firms) for m in team.members}

    @property
    def _months(self) -> int:
        return self._records.settings.validity_months

    def standings(self, firm: str, name: str) -> dict[str, track_record.Standing]:
        return _standings(self._evidence(firm, name), self._months)

    def _definitions(self, actor: Actor, firm: str) -> dict[str, CompetencyDef]:
        return {
            f.qualified(c.id): c for f in self._desk.frameworks(actor, firm) for c in f.competencies
        }

    def measures(self) -> dict[str, list[str]]:
        """Competency -> the ids of the challenges whose graders measure it."""
        found: dict[str, list[str]] = {}
        for challenge in self._catalogue.all():
            for competency in dict.fromkeys(g.competency.value for g in challenge.spec.graders):
                found.setdefault(competency, []).append(challenge.spec.id)
        return found


def _quarter_ends(now: datetime, count: int) -> tuple[list[str], list[datetime]]:
    """The labels and ends of the last ``count`` calendar quarters, oldest first; the current
    quarter ends ``now``."""
    year, quarter = now.year, (now.month - 1) // 3 + 1
    labels, ends = [f"{year} Q{quarter}"], [now]
    for _ in range(count - 1):
        start = datetime(year, 3 * quarter - 2, 1, tzinfo=UTC)
        ends.append(start - timedelta(microseconds=1))
        year, quarter = (year, quarter - 1) if quarter > 1 else (year - 1, 4)
        labels.append(f"{year} Q{quarter}")
    return labels[::-1], ends[::-1]


def _mean_at(
    members: Iterable[list[track_record.Evidence]], at: datetime, months: int
) -> float | None:
    """The mean of the members' current values at ``at`` (each member's evidence of one
    competency); None when no member's evidence counts then."""
    values = [
        v
        for evidence in members
        if any(e.at <= at for e in evidence)
        and (v := track_record.standing(evidence, at, months).value) is not None
    ]
    return sum(values) / len(values) if values else None


def _number(x: float | None) -> str:
    return "" if x is None else f"{x:.1f}"


def _cell(
    competency: str, standings: dict[str, track_record.Standing], defs: dict[str, CompetencyDef]
) -> Cell:
    standing = standings.get(competency)
    if standing is None:
        return Cell(competency, "never measured", None, None, None, None)
    if standing.value is None:
        return Cell(competency, "lapsed", None, None, None, standing.lapsed_at)
    known = defs.get(competency)
    level = None if known is None else known.level_of(standing.value)
    return Cell(competency, "current", level, standing.value, standing.interval, standing.lapsed_at)


def _shortfall(cell: Cell, required: int) -> str | None:
    if cell.state == "never measured":
        return "missing"
    if cell.state == "lapsed":
        return "lapsed"
    return "below" if cell.level is None or cell.level < required else None


def _standings(
    evidence: list[track_record.Evidence], months: int
) -> dict[str, track_record.Standing]:
    found = track_record.record(evidence, utcnow(), months)
    return {c: standing for c, (standing, _) in found.items()}
