"""Assessors' pages of teams, skill gaps and role profiles (runner/web/teams.py): a team is made
and filled through forms that check the session's CSRF secret; its page shows the heatmap of
members by competency, coverage of its role profiles, the trend and the CSV export; a person's
gaps list the challenges that measure each; role profiles are made, edited and deleted in a
form. Another firm's team, candidate or role profile is "not found"."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import httpx2
import pytest
from fastapi.testclient import TestClient

from prodproven.runner.portal.access import Actor
from prodproven.runner.spec.framework import RoleProfile
from tests.unit.websupport import Web, csrf_of, graded_run, make_web

ACME = Actor("lead@acme.test", "acme")
SRE = RoleProfile(name="SRE", requires={"deployment": 3, "optimization": 2})


@pytest.fixture
def web(tmp_path: Path) -> Web:
    return make_web(tmp_path)


@pytest.fixture
def ada(web: Web) -> TestClient:
    """Acme's assessor, with role profile SRE and team Platform (held against it) of Dana
    (a graded run of deploy-model) and Eve (invited only)."""
    graded_run(web, "Dana")
    web.portal.invitations.invite(ACME, "fix-drift", "Eve", "eve@x.test")
    web.portal.frameworks.save_profile(ACME, SRE)
    browser = web.assessor()
    made = post(browser, "/teams", "/teams", name="Platform", role_profiles="SRE")
    assert made.status_code == 303 and made.headers["location"] == "/teams/Platform"
    added = post(browser, "/teams/Platform", "/teams/Platform/members", names="Dana\nEve\n")
    assert added.status_code == 303, added.text
    return browser


def post(browser: TestClient, page: str, action: str, **form: str) -> httpx2.Response:
    """Submit a form of ``page`` to ``action`` with the page's CSRF secret."""
    csrf = csrf_of(browser.get(page).text)
    return browser.post(action, data={"csrf": csrf, **form}, follow_redirects=False)


def cell(html: str, member: str, competency: str) -> str:
    found = re.search(
        rf'data-member="{member}" data-competency="{competency}" data-state="([^"]+)">(.*?)</td>',
        html,
        re.S,
    )
    assert found, (member, competency)
    return f"{found.group(1)}: {' '.join(found.group(2).split())}"


def test_the_navigation_links_the_new_pages_for_assessors_only(web: Web) -> None:
    signed_in = web.assessor().get("/runs").text
    for link in ('href="/teams"', 'href="/roles"', 'href="/outbox"'):
        assert link in signed_in
    assert 'href="/teams"' not in web.client().get("/login").text


def test_the_teams_page_lists_the_firms_teams_and_refuses_a_form_without_csrf(
    web: Web, ada: TestClient
) -> None:
    listed = ada.get("/teams")
    assert listed.status_code == 200 and 'href="/teams/Platform"' in listed.text
    assert 'value="SRE"' in listed.text  # a role profile to tick
    forged = ada.post("/teams", data={"name": "Forged", "csrf": "nope"}, follow_redirects=False)
    assert forged.status_code == 403
    assert [t.name for t in web.portal.teams.teams(ACME)] == ["Platform"]


def test_a_team_the_portal_refuses_is_shown_on_the_page(ada: TestClient) -> None:
    refused = post(ada, "/teams", "/teams", name="Ops", role_profiles="No such profile")
    assert refused.status_code == 400
    assert "no role profile 'No such profile'" in refused.text.replace("&#39;", "'")


def test_the_team_page_shows_the_heatmap_coverage_trend_and_export(ada: TestClient) -> None:
    html = ada.get("/teams/Platform").text
    dana = cell(html, "Dana", "deployment")
    assert re.fullmatch(
        r"current: <strong>level \d</strong><br> \d+\.\d <small>\(\d+\.\d–\d+\.\d\)</small><br> "
        r"<small>lapses \d{4}-\d\d-\d\d</small>",
        dana,
    ), dana
    assert cell(html, "Eve", "deployment") == "never measured: <small>never measured</small>"
    assert "never measured" in html and "lapsed" in html  # the legend
    assert 'data-testid="coverage-SRE">1 of 2</span>' in html  # Dana's run measured both
    assert '<figure class="plot" data-testid="trend"><svg' in html
    assert 'href="/teams/Platform/export.csv"' in html
    exported = ada.get("/teams/Platform/export.csv")
    assert exported.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert {r["member"] for r in rows} == {"Dana", "Eve"}


def test_members_are_added_and_removed_through_forms(web: Web, ada: TestClient) -> None:
    unknown = post(ada, "/teams/Platform", "/teams/Platform/members", names="Nobody")
    assert unknown.status_code == 400
    assert "no candidate" in unknown.text
    removed = post(ada, "/teams/Platform", "/teams/Platform/members/remove", member="Eve")
    assert removed.status_code == 303
    assert web.portal.teams.team(ACME, "Platform").members == ["Dana"]
    forged = ada.post("/teams/Platform/members", data={"names": "Eve", "csrf": "x"})
    assert forged.status_code == 403
    assert web.portal.teams.team(ACME, "Platform").members == ["Dana"]


def test_another_firm_sees_neither_the_team_nor_the_people(web: Web, ada: TestClient) -> None:
    globex = web.assessor("bo@globex.test", firm="globex")
    assert globex.get("/teams/Platform").status_code == 404
    assert globex.get("/teams/Platform/export.csv").status_code == 404
    assert "Platform" not in globex.get("/teams").text
    csrf = csrf_of(globex.get("/teams").text)
    attempt = globex.post("/teams/Platform/members", data={"csrf": csrf, "names": "Dana"})
    assert attempt.status_code == 404
    globex.post("/teams", data={"csrf": csrf, "name": "Platform"})  # its own, same name
    theirs = globex.post("/teams/Platform/members", data={"csrf": csrf, "names": "Dana"})
    assert theirs.status_code == 400 and "no candidate" in theirs.text
    assert globex.get("/candidates/Dana/gaps").status_code == 200  # no profile: nothing asked
    web.portal.frameworks.save_profile(Actor("bo@globex.test", "globex"), SRE)
    assert globex.get("/candidates/Dana/gaps", params={"role": "SRE"}).status_code == 404
    assert web.portal.teams.team(ACME, "Platform").members == ["Dana", "Eve"]


def test_the_gap_page_lists_each_gap_with_the_challenges_measuring_it(ada: TestClient) -> None:
    html = ada.get("/candidates/Eve/gaps", params={"role": "SRE"}).text
    rows = re.findall(r'<tr data-competency="([^"]+)">(.*?)</tr>', html, re.S)
    gaps = {c: " ".join(body.split()) for c, body in rows}
    assert set(gaps) == {"deployment", "optimization"}
    assert "missing" in gaps["optimization"] and "<code>fix-drift</code>" in gaps["optimization"]
    assert 'href="/invitations"' in gaps["optimization"]
    assert '<option value="SRE" selected>' in html
    assert ada.get("/candidates/Eve/gaps").text.count("missing") == 2  # the first profile
    assert ada.get("/candidates/Nobody/gaps").status_code == 404


def test_the_candidate_page_links_the_gaps(ada: TestClient) -> None:
    assert 'href="/candidates/Dana/gaps"' in ada.get("/candidates/Dana").text


def test_role_profiles_are_made_edited_shown_as_yaml_and_deleted_in_forms(
    web: Web, ada: TestClient
) -> None:
    form = {"name": "ML engineer II", "framework": "builtin", "level-optimization": "3"}
    made = post(ada, "/roles", "/roles", **form, **{"level-deployment": ""})
    assert made.status_code == 303
    assert web.portal.frameworks.profile(ACME, "ML engineer II").requires == {"optimization": 3}
    page = ada.get("/roles").text
    assert "requires:\n  optimization: 3" in page  # the YAML view
    editing = ada.get("/roles", params={"edit": "ML engineer II"}).text
    assert '<option value="3" selected>' in editing
    changed = {"name": "ML engineer II", "framework": "builtin", "level-deployment": "2"}
    post(ada, "/roles", "/roles", **changed)
    assert web.portal.frameworks.profile(ACME, "ML engineer II").requires == {"deployment": 2}
    gone = post(ada, "/roles", "/roles/ML%20engineer%20II/delete")
    assert gone.status_code == 303
    assert [p.name for p in web.portal.frameworks.profiles(ACME)] == ["SRE"]


def test_a_role_profile_the_form_gets_wrong_is_refused_naming_the_field(
    web: Web, ada: TestClient
) -> None:
    for form, problem in (
        ({"name": "Empty"}, "requires"),
        ({"name": "High", "level-deployment": "9"}, "requires.deployment"),
        ({"name": " Spaced "}, "name"),
    ):
        refused = post(ada, "/roles", "/roles", framework="builtin", **form)
        assert refused.status_code == 400, form
        assert "invalid role profile from the form" in refused.text
        assert f"  - {problem}" in refused.text
    forged = ada.post("/roles", data={"name": "X", "level-deployment": "2", "csrf": "x"})
    assert forged.status_code == 403
    assert [p.name for p in web.portal.frameworks.profiles(ACME)] == ["SRE"]


def test_another_firm_cannot_edit_or_delete_a_role_profile(web: Web, ada: TestClient) -> None:
    globex = web.assessor("bo@globex.test", firm="globex")
    assert globex.get("/roles", params={"edit": "SRE"}).status_code == 404
    assert post(globex, "/roles", "/roles/SRE/delete").status_code == 404
    assert "SRE" not in globex.get("/roles").text
    assert [p.name for p in web.portal.frameworks.profiles(ACME)] == ["SRE"]
