"""The API's campaigns (runner/web/api_campaigns.py): in /openapi.json, read with ``read``,
created and closed with ``review``; a token sees and closes only its own firm's campaigns:
another firm's is "not found"."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from prodproven.runner.runs.store import utcnow
from tests.unit.websupport import Web, graded_run, make_web


def body(**kw: Any) -> dict[str, Any]:
    return {
        "name": "Q", "team": "Platform", "challenge": "fix-drift", "cadence_months": 3,
        "opens_at": utcnow().isoformat(), "window_days": 14, "remind_days": 3, **kw,
    }  # fmt: skip


@pytest.fixture
def web(tmp_path: Path) -> Web:
    return make_web(tmp_path)


@pytest.fixture
def ada(web: Web) -> TestClient:
    """Acme's assessor, with team Platform of Dana and Eve and campaign Q of it."""
    client = web.api()
    graded_run(web, "Dana")
    graded_run(web, "Eve")
    assert client.put("/api/teams/Platform", json={}).status_code == 200
    added = client.post("/api/teams/Platform/members", json={"names": ["Dana", "Eve"]})
    assert added.status_code == 200, added.text
    made = client.post("/api/campaigns", json=body())
    assert made.status_code == 201, made.text
    return client


def test_the_routes_are_in_the_openapi_document(web: Web) -> None:
    paths = web.client().get("/openapi.json").json()["paths"]
    assert set(paths["/api/campaigns"]) == {"get", "post"}
    assert "get" in paths["/api/campaigns/{name}"]
    assert "post" in paths["/api/campaigns/{name}/close"]


def test_an_assessor_creates_a_campaign_and_follows_its_progress(web: Web, ada: TestClient) -> None:
    listed = ada.get("/api/campaigns").json()
    assert [(c["spec"]["name"], c["spec"]["team"], c["firm"]) for c in listed] == [
        ("Q", "Platform", "acme")
    ]
    web.portal.campaigns.run_due()
    progress = ada.get("/api/campaigns/Q").json()
    assert {m["candidate"]: m["state"] for m in progress["members"]} == {
        "Dana": "invited", "Eve": "invited",
    }  # fmt: skip
    assert progress["counts"]["invited"] == 2
    closed = ada.post("/api/campaigns/Q/close")
    assert closed.status_code == 200 and closed.json()["closed_at"] is not None


def test_another_firms_token_neither_sees_nor_closes_it(web: Web, ada: TestClient) -> None:
    bob = web.api("bob@other.test", firm="other")
    assert bob.get("/api/campaigns").json() == []
    assert bob.get("/api/campaigns/Q").status_code == 404
    refused = bob.post("/api/campaigns/Q/close")
    assert refused.status_code == 404 and "no campaign 'Q'" in refused.json()["detail"]
    assert bob.post("/api/campaigns", json=body()).status_code == 404  # no team of bob's
    people = bob.post("/api/campaigns", json=body(team=None, people=["Dana"]))
    assert people.status_code == 404 and "no candidate 'Dana'" in people.json()["detail"]
    assert ada.get("/api/campaigns/Q").json()["campaign"]["closed_at"] is None


def test_reading_needs_read_and_changing_needs_review(web: Web, ada: TestClient) -> None:
    reader = web.api("reader@acme.test", "read")
    assert reader.get("/api/campaigns/Q").status_code == 200
    answer = reader.post("/api/campaigns/Q/close")
    assert answer.status_code == 403 and "'review'" in answer.json()["detail"]
    assert reader.post("/api/campaigns", json=body(name="R")).status_code == 403


def test_a_body_that_makes_no_sense_is_refused(ada: TestClient) -> None:
    assert ada.post("/api/campaigns", json=body(name="R", every=3)).status_code == 422
    assert ada.post("/api/campaigns", json=body(name="R", window_days=0)).status_code == 422
    both = ada.post("/api/campaigns", json=body(name="R", people=["Dana"]))
    assert both.status_code == 400 and "not both" in both.json()["detail"]
    taken = ada.post("/api/campaigns", json=body())
    assert taken.status_code == 400 and "already" in taken.json()["detail"]


def test_the_app_does_the_due_work_while_it_serves(web: Web, ada: TestClient) -> None:
    assert ada.get("/api/campaigns/Q").json()["counts"]["invited"] == 0
    with web.client() as serving:  # the app's lifespan: as `prodproven serve` runs it
        end = time.monotonic() + 10
        while serving.get("/api/campaigns/Q", headers=ada.headers).json()["counts"]["invited"] < 2:
            assert time.monotonic() < end, "no invitation within 10 s"
            time.sleep(0.05)
