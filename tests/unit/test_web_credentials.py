"""Credentials in the web app: an assessor issues one from the run's page, its public page
shows what it attests and whether it is valid without the run's private evidence, and the
candidate downloads theirs."""

from __future__ import annotations

import json

from tests.unit.test_web_pages import graded, invitation_link, start
from tests.unit.websupport import Web, csrf_of, make_web


def issue(web: Web, run_id: str) -> tuple[str, str]:
    """Issue through the run page's button; the public page's path and its HTML."""
    browser = web.assessor()
    page = browser.get(f"/runs/{run_id}")
    answer = browser.post(
        f"/runs/{run_id}/credentials", data={"csrf": csrf_of(page.text)}, follow_redirects=False
    )
    assert answer.status_code == 303, answer.text
    location = answer.headers["location"]
    return location, web.client().get(location).text


def test_an_assessor_issues_a_credential_and_its_public_page_says_it_is_valid(tmp_path):
    web = make_web(tmp_path)
    location, public = issue(web, graded(web))
    assert location.startswith("/credentials/urn:uuid:")
    assert 'data-testid="verdict">Valid now' in public
    assert "Deploy a model behind an SLO" in public and "did:key:z6Mk" in public


def test_the_public_page_carries_no_private_evidence(tmp_path):
    web = make_web(tmp_path)
    run_id = graded(web)
    _, public = issue(web, run_id)
    assert "Dana" not in public and "dana@x.test" not in public
    assert f"/runs/{run_id}/files" not in public and "workspace.tar" not in public


def test_a_revoked_credentials_public_page_says_why(tmp_path):
    web = make_web(tmp_path)
    location, _ = issue(web, graded(web))
    credential_id = location.removeprefix("/credentials/")
    web.portal.credentials.revoke(credential_id, "ada@acme.test", "plagiarised from a friend")
    public = web.client().get(location).text
    assert "Not valid now" in public and "plagiarised from a friend" in public


def test_an_unknown_credential_is_404(tmp_path):
    web = make_web(tmp_path)
    assert web.client().get("/credentials/urn:uuid:nope").status_code == 404


def test_issuing_below_the_pass_score_shows_why_on_the_run_page(tmp_path):
    web = make_web(tmp_path)
    run_id = graded(web)
    browser = web.assessor()
    page = browser.get(f"/runs/{run_id}")
    browser.post(
        f"/runs/{run_id}/overrides",
        data={"csrf": csrf_of(page.text), "score": "40", "reason": "copied the reference"},
    )
    page = browser.get(f"/runs/{run_id}")
    answer = browser.post(f"/runs/{run_id}/credentials", data={"csrf": csrf_of(page.text)})
    assert answer.status_code == 400 and "pass score of 70" in answer.text


def test_issuing_needs_the_forms_csrf_secret(tmp_path):
    web = make_web(tmp_path)
    run_id = graded(web)
    answer = web.assessor().post(f"/runs/{run_id}/credentials", data={"csrf": "forged"})
    assert answer.status_code == 403


def test_the_candidate_downloads_their_credential(tmp_path):
    web = make_web(tmp_path)
    link = invitation_link(web, "Eve")
    candidate = web.candidate(link)
    start(web, candidate)
    page = candidate.get("/candidate/submit")
    candidate.post("/candidate/submit", data={"csrf": csrf_of(page.text)})
    invitation = web.portal.invitations.list()[0]
    candidate.app.state.jobs.wait(invitation.id, timeout=10)
    run_id = web.portal.invitations.get(invitation.id).run_id
    assert run_id is not None
    issue(web, run_id)
    assert 'data-testid="credential-download"' in candidate.get("/candidate").text
    download = candidate.get("/candidate/credential.json")
    assert download.status_code == 200
    assert json.loads(download.text)["type"] == ["VerifiableCredential", "OpenBadgeCredential"]


def test_the_candidate_page_shows_runs_current_levels_and_the_history_chart(tmp_path):
    web = make_web(tmp_path)
    run_id = graded(web, "Dana")
    page = web.assessor().get("/candidates/Dana")
    assert page.status_code == 200
    assert f'href="/runs/{run_id}"' in page.text
    assert 'data-testid="competencies"' in page.text and "advanced" in page.text
    assert "<svg" in page.text and "Competencies over time" in page.text


def test_another_firms_assessor_does_not_learn_the_candidate_exists(tmp_path):
    web = make_web(tmp_path)
    graded(web, "Dana")
    assert web.assessor("eve@other.test", firm="other").get("/candidates/Dana").status_code == 404
