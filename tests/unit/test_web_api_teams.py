"""The API's teams and skill gaps (runner/web/api_teams.py): in /openapi.json, read with
``read``, changed with ``review``; a token sees and changes only its own firm's teams and
people: another firm's team or candidate is "not found"."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.unit.websupport import Web, graded_run, make_web

SRE = {"name": "SRE", "requires": {"deployment": 3, "ai_judgment": 2}}


@pytest.fixture
def web(tmp_path: Path) -> Web:
    return make_web(tmp_path)


@pytest.fixture
def ada(web: Web) -> TestClient:
    """Acme's assessor, with role profile SRE and team Platform of Dana (graded) and Eve."""
    client = web.api()
    graded_run(web, "Dana")
    graded_run(web, "Eve")
    assert client.put("/api/role-profiles/SRE", json=SRE).status_code == 200
    made = client.put("/api/teams/Platform", json={"role_profiles": ["SRE"]})
    assert made.status_code == 200, made.text
    added = client.post("/api/teams/Platform/members", json={"names": ["Dana", "Eve"]})
    assert added.status_code == 200, added.text
    return client


def test_the_routes_are_in_the_openapi_document(web: Web) -> None:
    paths = web.client().get("/openapi.json").json()["paths"]
    assert set(paths["/api/teams/{name}"]) == {"get", "put", "delete"}
    assert "post" in paths["/api/teams/{name}/members"]
    assert "delete" in paths["/api/teams/{name}/members/{candidate}"]
    for read in ("/api/teams", "/api/teams/{name}/standings", "/api/teams/{name}/export.csv",
                 "/api/candidates/{name}/gaps"):  # fmt: skip
        assert "get" in paths[read]


def test_an_assessor_builds_a_team_and_reads_its_standings(ada: TestClient) -> None:
    team = ada.get("/api/teams/Platform").json()
    assert team["members"] == ["Dana", "Eve"] and team["role_profiles"] == ["SRE"]
    grid = ada.get("/api/teams/Platform/standings").json()
    assert grid["competencies"][0] == "deployment"
    assert [c["competency"] for c in grid["cells"]["Dana"]] == grid["competencies"]
    exported = ada.get("/api/teams/Platform/export.csv")
    assert exported.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert {r["member"] for r in rows} == {"Dana", "Eve"}
    removed = ada.delete("/api/teams/Platform/members/Eve")
    assert removed.json()["members"] == ["Dana"]
    assert ada.delete("/api/teams/Platform").status_code == 204
    assert ada.get("/api/teams/Platform").status_code == 404


def test_gaps_name_each_shortfall_and_the_challenges_measuring_it(ada: TestClient) -> None:
    found = ada.get("/api/candidates/Eve/gaps", params={"role": "SRE"})
    assert found.status_code == 200, found.text
    gaps = {g["competency"]: g for g in found.json()["gaps"]}
    assert gaps["ai_judgment"]["kind"] == "missing"
    assert gaps["ai_judgment"]["challenges"] == ["review-ai-change"]
    assert ada.get("/api/candidates/Eve/gaps", params={"role": "Nope"}).status_code == 404


def test_another_firms_token_neither_sees_nor_changes_them(web: Web, ada: TestClient) -> None:
    bob = web.api("bob@other.test", firm="other")
    assert bob.get("/api/teams").json() == []
    for path in ("/api/teams/Platform", "/api/teams/Platform/standings",
                 "/api/teams/Platform/export.csv"):  # fmt: skip
        assert bob.get(path).status_code == 404
    assert bob.delete("/api/teams/Platform").status_code == 404
    assert bob.delete("/api/teams/Platform/members/Dana").status_code == 404
    assert bob.put("/api/role-profiles/SRE", json=SRE).status_code == 200  # bob's own
    assert bob.get("/api/candidates/Dana/gaps", params={"role": "SRE"}).status_code == 404
    assert bob.put("/api/teams/Platform", json={}).status_code == 200  # bob's own team
    refused = bob.post("/api/teams/Platform/members", json={"names": ["Dana"]})
    assert refused.status_code == 404 and "no candidate 'Dana'" in refused.json()["detail"]
    assert ada.get("/api/teams/Platform").json()["members"] == ["Dana", "Eve"]


def test_reading_needs_read_and_changing_needs_review(web: Web, ada: TestClient) -> None:
    reader = web.api("reader@acme.test", "read")
    assert reader.get("/api/teams/Platform").status_code == 200
    answer = reader.post("/api/teams/Platform/members", json={"names": ["Dana"]})
    assert answer.status_code == 403 and "'review'" in answer.json()["detail"]
    assert reader.put("/api/teams/Ops", json={}).status_code == 403
    inviter = web.api("inviter@acme.test", "invite")
    assert inviter.get("/api/teams").status_code == 403


def test_a_body_with_an_unknown_field_or_role_profile_is_refused(ada: TestClient) -> None:
    assert ada.put("/api/teams/Ops", json={"members": ["Dana"]}).status_code == 422
    unknown = ada.put("/api/teams/Ops", json={"role_profiles": ["Nope"]})
    assert unknown.status_code == 404 and "no role profile 'Nope'" in unknown.json()["detail"]
