"""The candidate's side of the web app (runner/web/candidate.py): an invitation link is redeemed
by pressing its page's button, never by opening it (a mail scanner opens links), and a failed
start shows the candidate a reference, not the engine's error."""

from __future__ import annotations

from pathlib import Path

import pytest

from prodproven.runner.portal.access import Actor
from prodproven.runner.runs.store import Status
from prodproven.runner.web.candidate import CLUSTER_FULL
from tests.unit.fakes import queued_on_cluster
from tests.unit.websupport import Web, csrf_of, jobs_of, make_web


@pytest.fixture
def web(tmp_path: Path) -> Web:
    return make_web(tmp_path)


def link_path(web: Web) -> str:
    _, link = web.portal.invitations.invite(
        Actor("lead@acme.test", "acme"), "deploy-model", "Cleo", "cleo@x.test"
    )
    return link.removeprefix(web.settings.base_url)


def test_a_mail_scanner_opening_the_link_does_not_redeem_it(web: Web) -> None:
    path = link_path(web)
    for _ in range(3):
        scanned = web.client().get(path, follow_redirects=False)
        assert scanned.status_code == 200 and "Open my invitation" in scanned.text
    [invitation] = web.portal.records.invitations.list()
    assert invitation.redeemed_at is None and invitation.state == "pending"
    web.candidate(web.settings.base_url + path)  # the candidate still gets in
    assert web.portal.records.invitations.list()[0].state == "opened"


def test_the_invitation_button_needs_its_form_secret(web: Web) -> None:
    path = link_path(web)
    browser = web.client()
    browser.get(path)
    forged = browser.post(path, data={"csrf": "guessed"}, follow_redirects=False)
    assert forged.status_code == 403
    assert web.portal.records.invitations.list()[0].redeemed_at is None


def test_the_browser_holding_the_invitation_goes_straight_to_its_page(web: Web) -> None:
    path = link_path(web)
    browser = web.candidate(web.settings.base_url + path)
    again = browser.get(path, follow_redirects=False)
    assert again.status_code == 303 and again.headers["location"] == "/candidate"
    used = web.client().get(path, follow_redirects=False)
    assert used.status_code == 401 and "already used" in used.text


def test_a_failed_start_shows_a_reference_and_the_assessor_the_reason(web: Web) -> None:
    web.runner.fail_after_create = True
    candidate = web.candidate(web.settings.base_url + link_path(web))
    candidate.post("/candidate/start", data={"csrf": csrf_of(candidate.get("/candidate").text)})
    [invitation] = web.portal.records.invitations.list()
    jobs_of(candidate).wait(invitation.id, timeout=10)
    failure = candidate.get("/candidate/status").json()["failure"]
    assert "reference" in failure and "could not be created" not in failure
    assert "could not be created" not in candidate.get("/candidate").text
    [run] = web.portal.records.store.list_runs()
    assert "no engine" in web.assessor().get(f"/runs/{run.id}").text


def test_a_candidate_whose_run_waits_for_the_cluster_is_told_so_with_no_place(web: Web) -> None:
    candidate = web.candidate(web.settings.base_url + link_path(web))
    [invitation] = web.portal.records.invitations.list()
    store = web.portal.records.store
    run = queued_on_cluster(store, "Cleo")
    web.portal.records.invitations.attach_run(invitation.id, run.id)
    live = candidate.get("/candidate/status").json()
    assert (live["status"], live["queue_position"]) == ("queued", None)
    assert live["message"] == f"{CLUSTER_FULL} (no suitable node)"
    assert "in the queue" not in candidate.get("/candidate").text


def test_a_queued_candidate_sees_their_place_and_the_page_keeps_asking(web: Web) -> None:
    candidate = web.candidate(web.settings.base_url + link_path(web))
    [invitation] = web.portal.records.invitations.list()
    store = web.portal.records.store
    ahead, own = (
        store.create_run(
            challenge_id="deploy-model",
            challenge_version="1.0.0",
            challenge_path="/c",
            candidate=name,
            mode="interactive",
        )
        for name in ("Ahead", "Cleo")
    )
    for run in (ahead, own):
        store.transition(run.id, Status.queued)
    web.portal.records.invitations.attach_run(invitation.id, own.id)
    live = candidate.get("/candidate/status").json()
    assert (live["status"], live["queue_position"]) == ("queued", 2)
    assert "You are number 2 in the queue." in live["message"]
    page = candidate.get("/candidate").text
    assert 'data-status="queued"' in page and "You are number 2 in the queue." in page
    assert "Start the challenge" not in page
    store.transition(ahead.id, Status.cancelled, error="withdrawn")
    assert candidate.get("/candidate/status").json()["queue_position"] == 1
    store.transition(own.id, Status.provisioning)
    assert candidate.get("/candidate/status").json()["queue_position"] is None
