"""The teams facet (runner/portal/teams.py): an assessor groups the people their firm invited
or ran into teams (``review``), reads them (``read``) for their own firm only; a team's
standings show each member's level, value, interval, lapse date and state per competency,
counting only the firm's own runs, and export as CSV; a person's gaps against a role profile
are the competencies missing, lapsed or below level, each with the challenges measuring it."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest

from prodproven.runner.errors import CandidateNotFound, ScopeDenied
from prodproven.runner.people.teams import TeamError, TeamNotFound
from prodproven.runner.people.track_record import Evidence
from prodproven.runner.portal.access import Actor
from prodproven.runner.portal.core import Portal
from prodproven.runner.runs.store import utcnow
from prodproven.runner.spec.framework import RoleProfile, RoleProfileNotFound
from tests.unit.portalsupport import ADA, BOB, CLI, invitation_for, run_for

SRE = RoleProfile(name="SRE", requires={"deployment": 3, "incident_response": 2, "ai_judgment": 2})


def measured(
    portal: Portal, firm: str, name: str, competencies: dict[str, float], days_ago: float = 1
) -> None:
    """A graded run of ``firm`` for ``name`` that measured ``competencies``."""
    run = run_for(portal, firm, name, score=70.0, graders={"x": 0.7})
    assert run.result is not None
    when = utcnow() - timedelta(days=days_ago)
    result = {**run.result, "competencies": competencies}
    portal.records.store.update(run.id, result=result, graded_at=when)


@pytest.fixture
def team_a(portal: Portal) -> Portal:
    """Firm A with role profile SRE, team "Platform" held against it, and Grace and Alan,
    whom it invited."""
    portal.frameworks.save_profile(ADA, SRE)
    invitation_for(portal, "firm-a", "Grace")
    invitation_for(portal, "firm-a", "Alan")
    for name in ("Grace", "Alan"):
        portal.candidates.add(name)
    portal.teams.save(ADA, "Platform", ["SRE"], "runs the serving stack")
    portal.teams.add(ADA, "Platform", ["Grace", "Alan"])
    return portal


def test_an_assessor_groups_their_firms_people_into_a_team(team_a: Portal) -> None:
    team = team_a.teams.team(ADA, "Platform")
    assert team.members == ["Alan", "Grace"] and team.role_profiles == ["SRE"]
    assert [t.name for t in team_a.teams.teams(ADA)] == ["Platform"]
    assert team_a.teams.remove(ADA, "Platform", ["Alan"]).members == ["Grace"]
    with pytest.raises(TeamError, match="team 'Platform' has no member 'Alan'"):
        team_a.teams.remove(ADA, "Platform", ["Alan"])


def test_another_firm_neither_sees_its_teams_nor_adds_its_people(team_a: Portal) -> None:
    assert team_a.teams.teams(BOB) == []
    with pytest.raises(TeamNotFound, match="no team 'Platform'"):
        team_a.teams.team(BOB, "Platform")
    with pytest.raises(TeamNotFound):
        team_a.teams.delete(BOB, "Platform")
    team_a.teams.save(BOB, "Platform")  # firm B's own, of the same name
    with pytest.raises(CandidateNotFound) as theirs:
        team_a.teams.add(BOB, "Platform", ["Grace"])
    with pytest.raises(CandidateNotFound) as nobody:
        team_a.teams.add(BOB, "Platform", ["Nobody"])
    assert str(theirs.value) == "no candidate 'Grace'"  # the same as for nobody:
    assert str(nobody.value) == "no candidate 'Nobody'"
    with pytest.raises(CandidateNotFound, match="no candidate 'Grace'"):
        team_a.teams.gaps(BOB, "Grace", "SRE")
    with pytest.raises(ScopeDenied, match="their own firm only"):
        team_a.teams.team(BOB, "Platform", firm="firm-a")
    assert team_a.teams.team(ADA, "Platform").members == ["Alan", "Grace"]


def test_reading_needs_read_and_changing_needs_review(team_a: Portal) -> None:
    reader = Actor("ada@a.example", "firm-a", ("read",))
    assert team_a.teams.grid(reader, "Platform").team.name == "Platform"
    with pytest.raises(ScopeDenied, match="'review'"):
        team_a.teams.add(reader, "Platform", ["Grace"])
    with pytest.raises(ScopeDenied, match="'review'"):
        team_a.teams.save(reader, "Other")
    with pytest.raises(ScopeDenied, match="'read'"):
        team_a.teams.teams(Actor("ada@a.example", "firm-a", ("invite",)))


def test_a_team_names_only_role_profiles_its_firm_has(team_a: Portal) -> None:
    with pytest.raises(RoleProfileNotFound, match="no role profile 'SRE'"):
        team_a.teams.save(BOB, "Ops", ["SRE"])
    team_a.teams.save(ADA, "Platform", [], "no profile now")
    assert team_a.teams.team(ADA, "Platform").members == ["Alan", "Grace"]  # members stay


def test_the_standings_show_current_lapsed_and_never_measured(team_a: Portal) -> None:
    measured(team_a, "firm-a", "Grace", {"deployment": 80.0})
    measured(team_a, "firm-a", "Grace", {"incident_response": 60.0}, days_ago=400)
    measured(team_a, "firm-b", "Alan", {"deployment": 95.0})  # another firm's run
    grid = team_a.teams.grid(ADA, "Platform")
    assert grid.competencies[:5] == [
        "deployment", "optimization", "infrastructure", "incident_response", "ai_judgment",
    ]  # fmt: skip
    grace = {c.competency: c for c in grid.cells["Grace"]}
    assert grace["deployment"].state == "current" and grace["deployment"].level == 4
    assert grace["deployment"].value == pytest.approx(80.0)
    assert grace["deployment"].interval is not None
    assert grace["incident_response"].state == "lapsed" and grace["incident_response"].level is None
    assert grace["incident_response"].lapsed_at is not None
    assert grace["incident_response"].lapsed_at < utcnow()
    assert {c.state for c in grid.cells["Alan"]} == {"never measured"}


def test_the_csv_has_one_row_per_member_and_competency(team_a: Portal) -> None:
    measured(team_a, "firm-a", "Grace", {"deployment": 80.0})
    rows = list(csv.DictReader(io.StringIO(team_a.teams.grid(ADA, "Platform").csv())))
    assert len(rows) == 2 * 5
    deployment = next(r for r in rows if r["member"] == "Grace" and r["competency"] == "deployment")
    assert deployment["level"] == "4" and deployment["value"] == "80.0"
    assert deployment["state"] == "current" and deployment["lapse_date"]
    assert float(deployment["interval_low"]) < 80 < float(deployment["interval_high"])
    alan = [r for r in rows if r["member"] == "Alan"]
    assert {r["state"] for r in alan} == {"never measured"} and {r["value"] for r in alan} == {""}


def test_gaps_are_missing_lapsed_or_below_level_with_the_challenges_measuring_them(
    team_a: Portal,
) -> None:
    measured(team_a, "firm-a", "Grace", {"deployment": 40.0})
    measured(team_a, "firm-a", "Grace", {"incident_response": 60.0}, days_ago=400)
    found = team_a.teams.gaps(ADA, "Grace", "SRE")
    kinds = {g.competency: g.kind for g in found.gaps}
    assert kinds == {"deployment": "below", "incident_response": "lapsed", "ai_judgment": "missing"}
    assert found.met == []
    by_id = {g.competency: g for g in found.gaps}
    assert by_id["deployment"].cell.level == 2 and by_id["deployment"].required == 3
    assert "deploy-model" in by_id["deployment"].challenges
    assert by_id["incident_response"].challenges == ["incident-response"]
    assert by_id["ai_judgment"].challenges == ["review-ai-change"]
    assert by_id["ai_judgment"].label == "judgment applied to AI output"


def test_a_person_at_every_level_has_no_gaps(team_a: Portal) -> None:
    levels = {"deployment": 60.0, "incident_response": 40.0, "ai_judgment": 99.0}
    measured(team_a, "firm-a", "Grace", levels)
    found = team_a.teams.gaps(CLI, "Grace", "SRE", firm="firm-a")
    assert found.gaps == [] and sorted(found.met) == sorted(levels)


def test_a_role_profile_deleted_since_is_passed_over(team_a: Portal) -> None:
    team_a.frameworks.save_profile(ADA, RoleProfile(name="Data", requires={"optimization": 2}))
    team_a.teams.save(ADA, "Platform", ["SRE", "Data"])
    team_a.frameworks.delete_profile(ADA, "SRE")
    assert len(team_a.teams.grid(ADA, "Platform").competencies) == 5


def test_coverage_counts_the_members_meeting_each_role_profile_and_each_level(
    team_a: Portal,
) -> None:
    measured(team_a, "firm-a", "Grace", {"deployment": 60.0, "incident_response": 40.0,
                                         "ai_judgment": 99.0})  # fmt: skip
    measured(team_a, "firm-a", "Alan", {"deployment": 40.0})
    grid = team_a.teams.grid(ADA, "Platform")
    (sre,) = team_a.teams.coverage(ADA, grid)
    assert sre.role_profile == "SRE" and sre.meeting == ["Grace"] and sre.members == 2
    at_level = {r.competency: (r.required, r.at_level) for r in sre.requirements}
    assert at_level == {"deployment": (3, 1), "incident_response": (2, 1), "ai_judgment": (2, 1)}
    assert [r.label for r in sre.requirements][-1] == "judgment applied to AI output"


def test_the_trend_is_the_members_mean_value_at_each_quarters_end(team_a: Portal) -> None:
    now = utcnow()
    quarter_start = now.replace(month=(now.month - 1) // 3 * 3 + 1, day=1, hour=0, minute=0,
                                second=0, microsecond=0)  # fmt: skip
    before = (now - quarter_start).total_seconds() / 86400 + 10  # ten days before this quarter
    measured(team_a, "firm-a", "Alan", {"deployment": 60.0}, days_ago=before)
    measured(team_a, "firm-a", "Grace", {"deployment": 80.0}, days_ago=0.0001)
    measured(team_a, "firm-b", "Grace", {"optimization": 90.0})  # another firm's: not counted
    trend = team_a.teams.trend(ADA, "Platform", quarters=3)
    assert trend.quarters[-1] == f"{now.year} Q{(now.month - 1) // 3 + 1}"
    assert len(trend.quarters) == len(trend.ends) == 3
    assert trend.ends[1] == quarter_start - timedelta(microseconds=1)
    assert list(trend.values) == ["deployment"]
    oldest, last_quarter, this_one = trend.values["deployment"]
    assert oldest is None  # nobody measured yet
    assert last_quarter == pytest.approx(60.0)  # Alan only: Grace's run came later
    assert this_one == pytest.approx(70.0)  # both, each at their own current value


def test_the_trend_needs_a_quarter_and_the_read_scope(team_a: Portal) -> None:
    with pytest.raises(ValueError, match="at least one quarter"):
        team_a.teams.trend(ADA, "Platform", quarters=0)
    with pytest.raises(ScopeDenied, match="'read'"):
        team_a.teams.trend(Actor("ada@a.example", "firm-a", ("invite",)), "Platform")
    with pytest.raises(TeamNotFound):
        team_a.teams.trend(BOB, "Platform")
    assert team_a.teams.trend(ADA, "Platform").values == {}


def test_the_dashboard_is_the_grid_and_the_trend_from_one_read_of_the_evidence(
    team_a: Portal, monkeypatch: pytest.MonkeyPatch
) -> None:
    measured(team_a, "firm-a", "Alan", {"deployment": 60.0})
    measured(team_a, "firm-a", "Grace", {"deployment": 80.0})
    candidates = team_a.records.candidates
    reads: list[str] = []
    evidence = candidates.evidence

    def counted(name: str) -> list[Evidence]:
        reads.append(name)
        return evidence(name)

    monkeypatch.setattr(candidates, "evidence", counted)
    grid, trend = team_a.teams.dashboard(ADA, "Platform", quarters=3)
    assert sorted(reads) == ["Alan", "Grace"]
    alone_grid = team_a.teams.grid(ADA, "Platform")
    assert grid.competencies == alone_grid.competencies
    for member, cells in grid.cells.items():
        alone = alone_grid.cells[member]
        assert [c.state for c in cells] == [c.state for c in alone]
        assert [c.value for c in cells] == pytest.approx([c.value for c in alone])
    trend_alone = team_a.teams.trend(ADA, "Platform", quarters=3)
    assert trend.quarters == trend_alone.quarters
    assert trend.values["deployment"] == pytest.approx(trend_alone.values["deployment"])
    with pytest.raises(TeamNotFound):
        team_a.teams.dashboard(BOB, "Platform")
