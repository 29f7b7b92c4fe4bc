"""Credentials in the web app: an assessor issues one from the run's page for a run that passed
(or sees why not), its public page shows what it attests and whether it is valid without the
run's private evidence, the candidate downloads theirs, and anyone fetches the signed status
list that tells a verifier whether it was revoked."""

from __future__ import annotations

import json
from functools import partial
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from markupsafe import escape

from prodproven.runner.credentials.status_list import fetch_json
from prodproven.runner.spec.parts import ABOUT_COMPETENCIES, Competency
from tests.unit.test_credentials import FAILED_SLO, RESULT
from tests.unit.test_web_pages import graded as graded_run
from tests.unit.test_web_pages import invitation_link, start
from tests.unit.websupport import Web, csrf_of, jobs_of, make_web

PASSED = {key: RESULT[key] for key in ("passed", "requirements", "uncertainty")}


def judged(web: Web, run_id: str, **verdict: Any) -> str:
    """Give the run's graded result the pass verdict and requirements (``PASSED`` unless
    ``verdict`` says otherwise; a None value removes the key)."""
    result = {**(web.portal.records.store.get(run_id).result or {}), **PASSED, **verdict}
    web.portal.records.store.update(
        run_id, result={k: v for k, v in result.items() if v is not None}
    )
    return run_id


def graded(web: Web, name: str = "Dana") -> str:
    """A run graded, that passed its requirements."""
    return judged(web, graded_run(web, name))


def refused(web: Web, run_id: str) -> Any:
    browser = web.assessor()
    page = browser.get(f"/runs/{run_id}")
    return browser.post(f"/runs/{run_id}/credentials", data={"csrf": csrf_of(page.text)})


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


def test_an_assessor_issues_a_credential_and_its_public_page_says_it_is_valid(
    tmp_path: Path,
) -> None:
    web = make_web(tmp_path)
    location, public = issue(web, graded(web))
    assert location.startswith("/credentials/urn:uuid:")
    assert 'data-testid="verdict">Valid now' in public
    assert "Deploy a model behind an SLO" in public and "did:key:z6Mk" in public


def test_the_public_page_carries_no_private_evidence(tmp_path: Path) -> None:
    web = make_web(tmp_path)
    run_id = graded(web)
    _, public = issue(web, run_id)
    assert "Dana" not in public and "dana@x.test" not in public
    assert f"/runs/{run_id}/files" not in public and "workspace.tar" not in public


def test_a_revoked_credentials_public_page_says_why(tmp_path: Path) -> None:
    web = make_web(tmp_path)
    location, _ = issue(web, graded(web))
    credential_id = location.removeprefix("/credentials/")
    web.portal.records.credentials.revoke(
        credential_id, "ada@acme.test", "plagiarised from a friend"
    )
    public = web.client().get(location).text
    assert "Not valid now" in public and "plagiarised from a friend" in public


def test_an_unknown_credential_is_404(tmp_path: Path) -> None:
    web = make_web(tmp_path)
    assert web.client().get("/credentials/urn:uuid:nope").status_code == 404


def test_issuing_below_the_pass_score_shows_why_on_the_run_page(tmp_path: Path) -> None:
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


def test_issuing_needs_the_forms_csrf_secret(tmp_path: Path) -> None:
    web = make_web(tmp_path)
    run_id = graded(web)
    answer = web.assessor().post(f"/runs/{run_id}/credentials", data={"csrf": "forged"})
    assert answer.status_code == 403


def started_and_submitted(web: Web, candidate: TestClient) -> str:
    """The candidate (the only one invited) starts, submits and waits for grading: the run."""
    start(web, candidate)
    page = candidate.get("/candidate/submit")
    candidate.post("/candidate/submit", data={"csrf": csrf_of(page.text)})
    invitation = web.portal.records.invitations.list()[0]
    jobs_of(candidate).wait(invitation.id, timeout=10)
    run_id = web.portal.records.invitations.get(invitation.id).run_id
    assert run_id is not None
    return run_id


def test_the_candidate_downloads_their_credential(tmp_path: Path) -> None:
    web = make_web(tmp_path)
    link = invitation_link(web, "Eve")
    candidate = web.candidate(link)
    issue(web, judged(web, started_and_submitted(web, candidate)))
    assert 'data-testid="credential-download"' in candidate.get("/candidate").text
    download = candidate.get("/candidate/credential.json")
    assert download.status_code == 200
    assert json.loads(download.text)["type"] == ["VerifiableCredential", "OpenBadgeCredential"]


def test_the_candidate_page_shows_runs_current_levels_and_the_history_chart(tmp_path: Path) -> None:
    web = make_web(tmp_path)
    run_id = graded(web, "Dana")
    page = web.assessor().get("/candidates/Dana")
    assert page.status_code == 200
    assert f'href="/runs/{run_id}"' in page.text
    assert 'data-testid="competencies"' in page.text and "advanced" in page.text
    assert "<svg" in page.text and "Competencies over time" in page.text


def test_another_firms_assessor_does_not_learn_the_candidate_exists(tmp_path: Path) -> None:
    web = make_web(tmp_path)
    graded(web, "Dana")
    assert web.assessor("eve@other.test", firm="other").get("/candidates/Dana").status_code == 404


def test_issuing_for_a_run_that_did_not_pass_names_the_missed_requirement(tmp_path: Path) -> None:
    web = make_web(tmp_path)
    run_id = judged(web, graded_run(web), passed=False, requirements=[FAILED_SLO])
    answer = refused(web, run_id)
    assert answer.status_code == 400
    assert f"run {run_id} did not pass: SLO met at 25 req/s: p95 164 ms &gt; SLO 100 ms" in (
        answer.text
    )


def test_issuing_for_a_run_graded_before_requirements_asks_to_grade_it_again(
    tmp_path: Path,
) -> None:
    web = make_web(tmp_path)
    run_id = judged(web, graded_run(web), passed=None)
    answer = refused(web, run_id)
    assert answer.status_code == 400 and "grade it again" in answer.text


def test_the_status_list_is_public_signed_json(tmp_path: Path) -> None:
    web = make_web(tmp_path)
    issue(web, graded(web))
    answer = web.client().get("/credentials/status/revocation")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("application/vc+ld+json")
    listed = answer.json()
    assert listed["id"] == "http://127.0.0.1:8080/credentials/status/revocation"
    assert listed["credentialSubject"]["encodedList"].startswith("u")
    assert [p["cryptosuite"] for p in listed["proof"]] == ["eddsa-rdfc-2022"]


def test_a_revoked_credential_fails_verification_through_the_served_status_list(
    tmp_path: Path,
) -> None:
    web = make_web(tmp_path)
    location, _ = issue(web, graded(web))
    issued = web.portal.records.credentials.get(location.removeprefix("/credentials/"))
    through_the_app = partial(fetch_json, client=web.client())

    def revocation() -> Any:
        verdict = web.portal.records.credentials.verify(issued.document, fetch=through_the_app)
        return next(c for c in verdict.checks if c.name == "revocation")

    assert revocation().ok and not revocation().warning
    web.portal.records.credentials.revoke(issued.id, "ada@acme.test", "plagiarised from a friend")
    assert not revocation().ok
    assert revocation().detail.startswith("revoked: bit 0 of the issuer's status list")


def test_there_is_no_status_list_before_the_first_credential(tmp_path: Path) -> None:
    web = make_web(tmp_path)
    assert web.client().get("/credentials/status/revocation").status_code == 404
    assert not (tmp_path / "issuer-ed25519.pem").exists()  # asking made no signing key


def test_ai_judgment_shows_by_its_label_on_the_run_candidate_and_credential_pages(
    tmp_path: Path,
) -> None:
    web = make_web(tmp_path)
    run_id = graded_run(web, "Dana")
    graders = (web.portal.records.store.get(run_id).result or {})["graders"]
    judged(
        web,
        run_id,
        competencies={"ai_judgment": 93.0},
        graders=[{**g, "competency": "ai_judgment"} for g in graders],
    )
    label, about = ABOUT_COMPETENCIES[Competency.ai_judgment]
    labelled = f'title="{escape(about)}">{label}</'
    browser = web.assessor()
    run_page = browser.get(f"/runs/{run_id}").text
    assert f"<th {labelled}th>" in run_page and f"<td>{label}</td>" in run_page
    assert f"<td {labelled}td>" in browser.get("/candidates/Dana").text
    _, public = issue(web, run_id)
    assert f"<td>{label}</td>" in public and "ai_judgment" not in public
