"""Each firm's teams in the store (runner/people/teams.py): saving again changes a team's
description and role profiles but keeps its members; a member is kept by profile id, so a team
follows a renamed profile; deleting a team ends its memberships, never the candidates; names
are checked; every change is in the audit log."""

from __future__ import annotations

from pathlib import Path

import pytest

from prodproven.runner.people.audit import Audit
from prodproven.runner.people.candidates import CandidateRow, Candidates
from prodproven.runner.people.frameworks import Frameworks, RoleProfiles
from prodproven.runner.people.teams import TeamError, TeamNotFound, Teams
from prodproven.runner.runs.store import Store
from prodproven.runner.spec.framework import RoleProfile, RoleProfileNotFound


@pytest.fixture
def teams(store: Store) -> Teams:
    return Teams(RoleProfiles(Frameworks(store, Audit(store))))


@pytest.fixture
def candidates(store: Store, tmp_path: Path) -> Candidates:
    return Candidates(store, Audit(store), tmp_path / "runs")


def test_saving_again_keeps_the_members(teams: Teams, candidates: Candidates) -> None:
    teams.profiles.save("firm-a", RoleProfile(name="SRE", requires={"deployment": 2}), "ada")
    teams.save("firm-a", "Platform", ["SRE"], "first", "ada")
    teams.add("firm-a", "Platform", [candidates.ensure("Grace")], "ada")
    saved = teams.save("firm-a", "Platform", [], "second", "bob")
    assert (saved.description, saved.role_profiles, saved.members) == ("second", [], ["Grace"])
    assert saved.updated_by == "bob"


def test_a_team_names_only_role_profiles_of_its_firm(teams: Teams) -> None:
    teams.profiles.save("firm-a", RoleProfile(name="SRE", requires={"deployment": 2}), "ada")
    with pytest.raises(RoleProfileNotFound, match="no role profile 'SRE'"):
        teams.save("firm-b", "Platform", ["SRE"], "", "bob")
    assert teams.all("firm-b") == []


def test_teams_of_two_firms_share_a_name_but_not_their_members(
    teams: Teams, candidates: Candidates
) -> None:
    for firm in ("firm-a", "firm-b"):
        teams.save(firm, "Platform", [], "", "someone")
    teams.add("firm-a", "Platform", [candidates.ensure("Grace")], "ada")
    assert teams.get("firm-b", "Platform").members == []
    assert teams.get("firm-a", "Platform").members == ["Grace"]


def test_adding_twice_is_one_membership_and_removing_a_stranger_is_refused(
    teams: Teams, candidates: Candidates
) -> None:
    grace, alan = candidates.ensure("Grace"), candidates.ensure("Alan")
    teams.save("firm-a", "Platform", [], "", "ada")
    teams.add("firm-a", "Platform", [grace, grace], "ada")
    assert teams.add("firm-a", "Platform", [grace], "ada").members == ["Grace"]
    with pytest.raises(TeamError, match="team 'Platform' has no member 'Alan'"):
        teams.remove("firm-a", "Platform", [grace, alan], "ada")
    assert teams.get("firm-a", "Platform").members == ["Grace"]  # nobody removed
    assert teams.remove("firm-a", "Platform", [grace], "ada").members == []


def test_a_member_is_kept_by_profile_so_a_renamed_one_stays(
    teams: Teams, candidates: Candidates, store: Store
) -> None:
    grace = candidates.ensure("Grace")
    teams.save("firm-a", "Platform", [], "", "ada")
    teams.add("firm-a", "Platform", [grace], "ada")
    with store.session() as s:
        row = s.get(CandidateRow, grace.id)
        assert row is not None
        row.name = "forgotten-x"
    assert teams.get("firm-a", "Platform").members == ["forgotten-x"]


def test_deleting_a_team_ends_its_memberships(teams: Teams, candidates: Candidates) -> None:
    teams.save("firm-a", "Platform", [], "", "ada")
    teams.add("firm-a", "Platform", [candidates.ensure("Grace")], "ada")
    teams.delete("firm-a", "Platform", "ada")
    with pytest.raises(TeamNotFound, match="no team 'Platform'"):
        teams.get("firm-a", "Platform")
    assert teams.save("firm-a", "Platform", [], "", "ada").members == []  # made afresh
    assert candidates.get("Grace").name == "Grace"


@pytest.mark.parametrize("name", ["", " Platform", "Platform ", "x" * 101])
def test_a_name_out_of_bounds_is_refused(teams: Teams, name: str) -> None:
    with pytest.raises(TeamError, match="1 to 100 characters without spaces"):
        teams.save("firm-a", name, [], "", "ada")


def test_every_change_is_in_the_audit_log(
    teams: Teams, candidates: Candidates, store: Store
) -> None:
    grace = candidates.ensure("Grace")
    teams.save("firm-a", "Platform", [], "", "ada")
    teams.add("firm-a", "Platform", [grace], "ada")
    teams.remove("firm-a", "Platform", [grace], "ada")
    teams.delete("firm-a", "Platform", "ada")
    logged = [(e.actor, e.action) for e in reversed(Audit(store).entries("firm-a"))]
    assert logged == [
        ("ada", "team.save"), ("ada", "team.add"), ("ada", "team.remove"), ("ada", "team.delete"),
    ]  # fmt: skip
