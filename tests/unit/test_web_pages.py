"""What candidates and assessors see and do in the web app, and what the API returns (over a
real store; the runner is a fake that starts and grades instantly)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from prodproven.runner.portal.access import Actor
from tests.unit.websupport import Web, csrf_of, jobs_of, make_web


@pytest.fixture
def web(tmp_path: Path) -> Web:
    return make_web(tmp_path)


def invitation_link(web: Web, name: str = "Cleo") -> str:
    _, link = web.portal.invitations.invite(
        Actor("lead@acme.test", "acme"), "deploy-model", name, f"{name.lower()}@x.test"
    )
    return link


def start(web: Web, candidate: TestClient) -> None:
    page = candidate.get("/candidate")
    candidate.post("/candidate/start", data={"csrf": csrf_of(page.text)})
    jobs_of(candidate).wait(web.portal.records.invitations.list()[0].id, timeout=10)


def graded(web: Web, name: str = "Dana") -> str:
    candidate = web.candidate(invitation_link(web, name))
    start(web, candidate)
    page = candidate.get("/candidate/submit")
    candidate.post("/candidate/submit", data={"csrf": csrf_of(page.text)})
    invitation = next(i for i in web.portal.records.invitations.list() if i.candidate_name == name)
    jobs_of(candidate).wait(invitation.id, timeout=10)
    assert invitation.run_id is not None
    return invitation.run_id


# candidates ------------------------------------------------------------------------------------
def test_the_candidate_page_shows_the_brief_before_the_start(web: Web) -> None:
    candidate = web.candidate(invitation_link(web))
    page = candidate.get("/candidate")
    assert "Deploy a model behind an SLO" in page.text
    assert "<h1>" in page.text.split('class="card brief"')[1]  # the brief's markdown, rendered
    assert "Start the challenge" in page.text


def test_starting_shows_the_clock_counting_down_from_the_server_deadline(web: Web) -> None:
    candidate = web.candidate(invitation_link(web))
    start(web, candidate)
    status = candidate.get("/candidate/status").json()
    assert status["status"] == "running" and status["running"] is True
    assert 89 * 60 < status["remaining_s"] <= 90 * 60
    page = candidate.get("/candidate").text
    assert re.search(r'data-remaining="5[34]\d\d\.\d+"', page)
    assert 'data-testid="clock"' in page and "/static/clock.js" in page


def test_a_refresh_shows_the_same_run(web: Web) -> None:
    candidate = web.candidate(invitation_link(web))
    start(web, candidate)
    first = candidate.get("/candidate/status").json()["deadline"]
    assert candidate.get("/candidate/status").json()["deadline"] == first
    assert len(web.portal.records.store.list_runs()) == 1


def test_jupyterlab_and_services_are_linked_through_the_app(web: Web) -> None:
    candidate = web.candidate(invitation_link(web))
    start(web, candidate)
    page = candidate.get("/candidate").text
    assert 'href="/candidate/lab/lab"' in page and 'href="/candidate/tools/service/"' in page
    service = candidate.get("/candidate/tools/service", follow_redirects=False)
    assert service.status_code == 303
    assert service.headers["location"] == "/candidate/tools/service/"


def test_submitting_asks_for_confirmation_then_shows_the_status(web: Web) -> None:
    candidate = web.candidate(invitation_link(web))
    start(web, candidate)
    confirm = candidate.get("/candidate/submit")
    assert "Yes, submit now" in confirm.text
    assert web.portal.records.store.list_runs()[0].status.value == "running"
    candidate.post("/candidate/submit", data={"csrf": csrf_of(confirm.text)})
    jobs_of(candidate).wait(web.portal.records.invitations.list()[0].id, timeout=10)
    status = candidate.get("/candidate/status").json()
    assert status["status"] == "graded"
    assert "received" in status["message"]
    assert "score" not in candidate.get("/candidate").text.lower().split("brief")[0]


# assessors -------------------------------------------------------------------------------------
def test_the_runs_list_filters_and_sorts(web: Web) -> None:
    first, second = graded(web, "Dana"), graded(web, "Bea")
    browser = web.assessor()
    listing = browser.get("/runs?sort=candidate&order=asc").text
    assert listing.index(second) < listing.index(first)
    only = browser.get("/runs?candidate=dan").text
    assert first in only and second not in only
    assert second not in browser.get("/runs?min_score=101").text


def test_the_run_page_shows_score_graders_plots_notebook_files_and_events(web: Web) -> None:
    run_id = graded(web)
    page = web.assessor().get(f"/runs/{run_id}").text
    assert 'data-testid="score">100.0<' in page
    assert "correctness" in page and "robustness" in page
    assert 'data-plot="' in page and "<svg" in page
    assert "Notebook <code>analysis.ipynb</code>" in page and "print(1 + 1)" in page
    assert f'href="/runs/{run_id}/files/app.py"' in page
    assert "status.graded" in page


def test_an_override_changes_the_shown_score_and_keeps_the_graded_one(web: Web) -> None:
    run_id = graded(web)
    browser = web.assessor()
    page = browser.get(f"/runs/{run_id}")
    browser.post(
        f"/runs/{run_id}/overrides",
        data={
            "csrf": csrf_of(page.text),
            "score": "72.5",
            "reason": "The load test hit a cold cache.",
        },
    )
    shown = browser.get(f"/runs/{run_id}").text
    assert 'data-testid="score">72.5<' in shown
    assert "overridden from 100.0 by ada@acme.test" in shown
    assert web.portal.records.store.get(run_id).score == 100.0
    entry = web.portal.records.audit.entries(subject=run_id)[0]
    assert entry.action == "review.override" and entry.actor == "ada@acme.test"


def test_a_note_is_shown_with_its_author(web: Web) -> None:
    run_id = graded(web)
    browser = web.assessor()
    page = browser.get(f"/runs/{run_id}")
    browser.post(
        f"/runs/{run_id}/notes", data={"csrf": csrf_of(page.text), "text": "Clean service code."}
    )
    shown = browser.get(f"/runs/{run_id}").text
    assert "Clean service code." in shown and "ada@acme.test" in shown


def test_the_report_is_self_contained_and_includes_reviews(web: Web) -> None:
    run_id = graded(web)
    web.portal.reviews.override(
        Actor("ada@acme.test", "acme"), run_id, 80, "Partial credit for p95."
    )
    report = web.assessor().get(f"/runs/{run_id}/report.html")
    assert report.headers["content-disposition"].startswith("attachment")
    html = report.text
    assert "<style>" in html and "<svg" in html and "Partial credit for p95." in html
    assert "<script" not in html
    assert not re.search(r'(src|href)="(https?:)?//', html)


def test_compare_puts_candidates_of_a_challenge_side_by_side(web: Web) -> None:
    first, second = graded(web, "Dana"), graded(web, "Bea")
    page = web.assessor().get("/compare?challenge=deploy-model").text
    assert first in page and second in page
    assert '<th class="num">correctness</th>' in page


def test_an_assessor_invites_and_sees_the_link_once(web: Web) -> None:
    browser = web.assessor()
    page = browser.get("/invitations")
    created = browser.post(
        "/invitations",
        data={
            "csrf": csrf_of(page.text),
            "challenge": "deploy-model",
            "name": "Ivy",
            "email": "ivy@x.test",
            "days": "3",
        },
    )
    link = re.search(r'value="(http://127\.0\.0\.1:8080/i/[^"]+)"', created.text)
    assert link is not None
    assert link.group(1) not in browser.get("/invitations").text
    assert web.candidate(link.group(1)).get("/candidate").status_code == 200


# API -------------------------------------------------------------------------------------------
def test_the_openapi_document_describes_the_api_with_bearer_auth(web: Web) -> None:
    document = web.client().get("/openapi.json").json()
    assert {"/api/runs", "/api/runs/{run_id}", "/api/invitations"} <= set(document["paths"])
    assert document["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    assert not any(path.startswith("/runs") for path in document["paths"])


def test_the_api_invites_lists_reviews_and_reads_results(web: Web) -> None:
    client = web.client()
    headers = {"Authorization": f"Bearer {web.token()}"}
    created = client.post(
        "/api/invitations",
        headers=headers,
        json={"challenge": "deploy-model", "candidate_name": "Jo", "candidate_email": "jo@x.test"},
    )
    assert created.status_code == 201 and "/i/" in created.json()["link"]
    run_id = graded(web)
    runs = client.get("/api/runs?status=graded", headers=headers).json()
    assert [r["id"] for r in runs] == [run_id] and runs[0]["score"] == 100.0
    note = client.post(f"/api/runs/{run_id}/notes", headers=headers, json={"text": "ok"})
    assert note.status_code == 201
    override = client.post(
        f"/api/runs/{run_id}/overrides",
        headers=headers,
        json={"score": 64, "reason": "Robustness tests were flaky."},
    )
    assert override.status_code == 201 and override.json()["previous_score"] == 100.0
    detail = client.get(f"/api/runs/{run_id}", headers=headers).json()
    assert detail["run"]["score"] == 64 and detail["run"]["graded_score"] == 100.0
    assert detail["result"]["graders"][0]["name"] == "correctness"
    assert [r["kind"] for r in detail["reviews"]] == ["note", "override"]
    kinds = [e["kind"] for e in client.get(f"/api/runs/{run_id}/events", headers=headers).json()]
    assert "status.graded" in kinds


def test_the_web_jobs_of_a_candidate_go_to_the_log_file_with_their_run(web: Web) -> None:
    run_id = graded(web)
    invitation = web.portal.records.invitations.list()[0].id
    text = (web.settings.data_dir / "logs" / "prodproven.log").read_text()
    assert f"invitation {invitation}: run {run_id} created" in text
    assert f"start job for {invitation} done: run {run_id} is running" in text
    assert f"grade job for {invitation} started on run {run_id}" in text
    assert f"grade job for {invitation} done: run {run_id} is graded" in text


def test_an_assessor_cancels_a_running_run_from_its_page_with_a_reason(web: Web) -> None:
    candidate = web.candidate(invitation_link(web, "Eve"))
    start(web, candidate)
    run_id = web.portal.records.invitations.list()[0].run_id
    browser = web.assessor(firm="acme")
    page = browser.get(f"/runs/{run_id}")
    assert 'action="/runs/' + f'{run_id}/cancel"' in page.text
    refused = browser.post(f"/runs/{run_id}/cancel", data={"reason": "no csrf"})
    assert refused.status_code == 403
    browser.post(
        f"/runs/{run_id}/cancel", data={"csrf": csrf_of(page.text), "reason": "She withdrew."}
    )
    shown = browser.get(f"/runs/{run_id}").text
    assert "cancelled" in shown and "Cancelled: She withdrew." in shown
    assert f'{run_id}/cancel"' not in shown  # the button is gone once the run has ended
    assert "The firm ended this run" in candidate.get("/candidate").text
    entry = web.portal.records.audit.entries(subject=str(run_id))[0]
    assert entry.action == "run.cancelled" and entry.actor == "ada@acme.test"
