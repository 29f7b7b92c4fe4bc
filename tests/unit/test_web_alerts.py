"""The candidate's pager in the web app (runner/web/alerts.py): the page polls the open alert
of the candidate's run, and acknowledges it with the session's CSRF secret in a header; a
request without it, or one another site made, is refused."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from prodproven.runner.portal.access import Actor
from prodproven.runner.runs.alerts import ACKNOWLEDGED, FIRED
from tests.unit.websupport import Web, make_web

SYMPTOM = "canary requests fail. Canary saw: HTTP 503 after 7 ms"


@pytest.fixture
def web(tmp_path: Path) -> Web:
    return make_web(tmp_path)


def paged(web: Web) -> tuple[TestClient, str]:
    """A candidate's browser whose running run has an open alert, and the run's id."""
    _, link = web.portal.invitations.invite(
        Actor("lead@acme.test", "acme"), "incident-response", "Cleo", "cleo@x.test"
    )
    browser = web.candidate(link)
    [invitation] = web.portal.records.invitations.list()
    run = web.portal.invited.start(invitation.id)
    data = {"id": "alert-1", "name": "n", "at": time.time() - 12, "symptom": SYMPTOM}
    web.portal.records.store.add_event(run.id, FIRED, data)
    return browser, run.id


def test_the_page_gets_the_open_alert_and_the_secret_to_acknowledge_it(web: Web) -> None:
    browser, _ = paged(web)
    answer = browser.get("/candidate/alerts").json()
    alert = answer["alert"]
    assert (alert["id"], alert["symptom"], alert["acknowledged_at"]) == ("alert-1", SYMPTOM, None)
    assert 11 <= alert["age_s"] <= 30
    assert answer["csrf"]


def test_nothing_is_shown_without_an_alert(web: Web) -> None:
    _, link = web.portal.invitations.invite(
        Actor("lead@acme.test", "acme"), "incident-response", "Dora", "dora@x.test"
    )
    assert web.candidate(link).get("/candidate/alerts").json()["alert"] is None


def test_the_alerts_need_a_candidates_session(web: Web) -> None:
    paged(web)
    assert web.client().get("/candidate/alerts").status_code == 401


def test_acknowledging_with_the_secret_records_it(web: Web) -> None:
    browser, run_id = paged(web)
    secret = browser.get("/candidate/alerts").json()["csrf"]
    answer = browser.post("/candidate/alerts/alert-1/ack", headers={"X-CSRF-Token": secret})
    assert answer.status_code == 200, answer.text
    assert answer.json()["alert"]["acknowledged_at"] is not None
    kinds = [e.kind for e in web.portal.records.store.events(run_id)]
    assert ACKNOWLEDGED in kinds
    assert browser.get("/candidate/alerts").json()["alert"]["acknowledged_at"] is not None


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"X-CSRF-Token": "guessed"},
        {"X-CSRF-Token": "SECRET", "Origin": "https://evil.example"},
        {"X-CSRF-Token": "SECRET", "Sec-Fetch-Site": "cross-site"},
    ],
    ids=["no secret", "wrong secret", "foreign origin", "cross-site"],
)
def test_an_acknowledgement_without_the_secret_or_from_another_site_is_refused(
    web: Web, headers: dict[str, str]
) -> None:
    browser, run_id = paged(web)
    secret = browser.get("/candidate/alerts").json()["csrf"]
    sent = {name: secret if value == "SECRET" else value for name, value in headers.items()}
    assert browser.post("/candidate/alerts/alert-1/ack", headers=sent).status_code == 403
    assert ACKNOWLEDGED not in [e.kind for e in web.portal.records.store.events(run_id)]


def test_an_unknown_alert_is_refused_with_a_conflict(web: Web) -> None:
    browser, _ = paged(web)
    secret = browser.get("/candidate/alerts").json()["csrf"]
    answer = browser.post("/candidate/alerts/alert-9/ack", headers={"X-CSRF-Token": secret})
    assert answer.status_code == 409
    malformed = browser.post("/candidate/alerts/x/ack", headers={"X-CSRF-Token": secret})
    assert malformed.status_code == 422


def test_the_candidate_page_loads_the_pager(web: Web) -> None:
    browser, _ = paged(web)
    assert '<script src="/static/alerts.js" defer></script>' in browser.get("/candidate").text
    assert browser.get("/static/alerts.js").status_code == 200
