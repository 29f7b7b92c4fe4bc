"""Who may do what in the web app: candidates reach only their own run, forms need their
CSRF secret, the API needs a valid token with the right scope and sees only its firm."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from prodproven.runner.people.accounts import ApiTokenRow
from prodproven.runner.people.invitations import InvitationRow
from prodproven.runner.people.throttle import LOCK_AFTER, MAX_DELAY_S
from prodproven.runner.portal.access import Actor
from prodproven.runner.runs.store import utcnow
from tests.unit.test_throttle import Clock
from tests.unit.websupport import PASSWORD, Web, csrf_of, jobs_of, make_web

OPERATOR = Actor("cli:x", None)


@pytest.fixture
def web(tmp_path: Path) -> Web:
    return make_web(tmp_path)


def invite(web: Web, firm: str = "acme", name: str = "Cleo") -> str:
    from prodproven.runner.portal.access import Actor

    _, link = web.portal.invitations.invite(
        Actor(f"lead@{firm}.test", firm), "deploy-model", name, f"{name.lower()}@x.test"
    )
    return link


def started_run(web: Web, link: str) -> tuple[TestClient, str]:
    """A candidate browser whose run is running, and the run id."""
    candidate = web.candidate(link)
    page = candidate.get("/candidate")
    candidate.post("/candidate/start", data={"csrf": csrf_of(page.text)})
    state = web.portal.records.invitations.list()[0]
    jobs_of(candidate).wait(state.id, timeout=10)
    invitation = next(i for i in web.portal.records.invitations.list() if i.run_id and link)
    assert invitation.run_id is not None
    return candidate, invitation.run_id


def graded_run(web: Web) -> str:
    from prodproven.runner.portal.access import Actor

    _, link = web.portal.invitations.invite(
        Actor("lead@acme.test", "acme"), "deploy-model", "Dana", "dana@x.test"
    )
    token = link.rsplit("/", 1)[1]
    invitation = web.portal.records.invitations.redeem(token)
    run = web.portal.invited.start(invitation.id)
    web.portal.invited.submit(invitation.id)
    return run.id


# candidates ------------------------------------------------------------------------------------
def test_an_invitation_link_works_once(web: Web) -> None:
    link = invite(web)
    web.candidate(link)
    second_browser = web.client()
    response = second_browser.get(link.removeprefix(web.settings.base_url), follow_redirects=False)
    assert response.status_code == 401
    assert "already used" in response.text


def test_the_same_browser_can_reopen_its_link(web: Web) -> None:
    link = invite(web)
    browser = web.candidate(link)
    again = browser.get(link.removeprefix(web.settings.base_url), follow_redirects=False)
    assert again.status_code == 303 and again.headers["location"] == "/candidate"


def test_a_wrong_invitation_token_is_refused(web: Web) -> None:
    response = web.client().get("/i/not-a-real-token", follow_redirects=False)
    assert response.status_code == 401
    assert "not valid" in response.text


def test_an_expired_invitation_is_refused(web: Web) -> None:
    link = invite(web)
    with web.portal.records.store.session() as s:
        row = s.query(InvitationRow).one()
        row.expires_at = row.created_at - timedelta(minutes=1)
    response = web.client().get(link.removeprefix(web.settings.base_url), follow_redirects=False)
    assert response.status_code == 401
    assert "expired" in response.text


def test_a_revoked_invitation_is_refused(web: Web) -> None:
    link = invite(web)
    web.portal.records.invitations.revoke(web.portal.records.invitations.list()[0].id)
    response = web.client().get(link.removeprefix(web.settings.base_url), follow_redirects=False)
    assert response.status_code == 401


def test_a_candidate_cannot_open_assessor_pages(web: Web) -> None:
    other = graded_run(web)
    candidate = web.candidate(invite(web, name="Eve"))
    for path in (
        "/runs",
        f"/runs/{other}",
        f"/runs/{other}/workspace.tar",
        "/invitations",
        "/compare",
        f"/runs/{other}/report.html",
    ):
        response = candidate.get(path, follow_redirects=False)
        assert response.status_code == 303 and response.headers["location"].startswith("/login"), (
            path
        )


def test_a_candidate_cookie_is_not_an_api_credential(web: Web) -> None:
    candidate = web.candidate(invite(web))
    assert candidate.get("/api/runs").status_code == 401


def test_a_candidate_sees_only_their_own_run(web: Web) -> None:
    first, first_run = started_run(web, invite(web, name="Finn"))
    second = web.candidate(invite(web, name="Gus"))
    page = second.get("/candidate")
    assert first_run not in page.text
    assert "Start the challenge" in page.text
    assert second.get("/candidate/status").json()["status"] == "not started"
    assert first.get("/candidate/status").json()["status"] == "running"


def test_candidate_pages_need_the_invitation_cookie(web: Web) -> None:
    for path in ("/candidate", "/candidate/status", "/candidate/tools/lab"):
        assert web.client().get(path, follow_redirects=False).status_code == 401


def test_the_candidate_page_never_shows_hidden_material(web: Web) -> None:
    candidate = web.candidate(invite(web))
    page = candidate.get("/candidate").text
    assert "hidden/" not in page and "expected.json" not in page


# CSRF ------------------------------------------------------------------------------------------
def test_an_assessor_form_without_its_csrf_secret_is_refused(web: Web) -> None:
    browser = web.assessor()
    response = browser.post(
        "/invitations", data={"challenge": "deploy-model", "name": "X", "email": "x@x.test"}
    )
    assert response.status_code == 403
    assert web.portal.records.invitations.list() == []


def test_an_assessor_form_with_another_sessions_csrf_secret_is_refused(web: Web) -> None:
    mine = web.assessor()
    theirs = web.assessor("bo@acme.test")
    stolen = csrf_of(theirs.get("/invitations").text)
    response = mine.post(
        "/invitations",
        data={"csrf": stolen, "challenge": "deploy-model", "name": "X", "email": "x@x.test"},
    )
    assert response.status_code == 403


def test_the_sign_in_form_needs_its_csrf_cookie(web: Web) -> None:
    web.portal.accounts.add_assessor("ada@acme.test", "Ada", "acme", "correct horse battery")
    response = web.client().post(
        "/login",
        data={"email": "ada@acme.test", "password": "correct horse battery", "csrf": "guess"},
        follow_redirects=False,
    )
    assert response.status_code == 403


def test_a_candidate_form_without_its_csrf_secret_is_refused(web: Web) -> None:
    candidate = web.candidate(invite(web))
    assert candidate.post("/candidate/start", data={}).status_code == 403
    assert web.portal.records.invitations.list()[0].run_id is None


# sign-in ---------------------------------------------------------------------------------------
def test_a_wrong_password_is_refused_and_audited(web: Web) -> None:
    web.portal.accounts.add_assessor("ada@acme.test", "Ada", "acme", "correct horse battery")
    browser = web.client()
    page = browser.get("/login")
    response = browser.post(
        "/login", data={"email": "ada@acme.test", "password": "nope", "csrf": csrf_of(page.text)}
    )
    assert response.status_code == 401
    assert browser.get("/runs", follow_redirects=False).status_code == 303
    assert web.portal.records.audit.entries()[0].action == "login.failed"


def test_sign_in_never_redirects_to_another_site(web: Web) -> None:
    web.portal.accounts.add_assessor("ada@acme.test", "Ada", "acme", "correct horse battery")
    browser = web.client()
    page = browser.get("/login?next=//evil.test/x")
    response = browser.post(
        "/login",
        data={
            "email": "ada@acme.test",
            "password": "correct horse battery",
            "csrf": csrf_of(page.text),
            "next": "https://evil.test/",
        },
        follow_redirects=False,
    )
    assert response.headers["location"] == "/runs"


def test_signing_out_ends_the_session(web: Web) -> None:
    browser = web.assessor()
    page = browser.get("/runs")
    browser.post("/logout", data={"csrf": csrf_of(page.text)})
    assert browser.get("/runs", follow_redirects=False).status_code == 303


def login_form(browser: TestClient, password: str) -> dict[str, str]:
    """A filled-in sign-in form for ada@acme.test, with its CSRF secret."""
    page = browser.get("/login")
    return {"email": "ada@acme.test", "password": password, "csrf": csrf_of(page.text)}


def test_forty_wrong_passwords_then_the_right_one_is_refused_with_429_and_retry_after(
    web: Web, monkeypatch: pytest.MonkeyPatch
) -> None:
    web.portal.accounts.add_assessor("ada@acme.test", "Ada", "acme", PASSWORD)
    Clock(monkeypatch)  # the forty come faster than a second apart, however slow this machine
    browser = web.client()
    codes = [
        browser.post("/login", data=login_form(browser, f"wrong guess {n}")).status_code
        for n in range(40)
    ]
    assert codes == [401] * 5 + [429] * 35
    right = browser.post("/login", data=login_form(browser, PASSWORD), follow_redirects=False)
    assert right.status_code == 429 and int(right.headers["retry-after"]) >= 1
    assert "too many attempts, try again in" in right.text
    assert browser.get("/runs", follow_redirects=False).status_code == 303


def test_a_locked_account_is_told_so_on_the_sign_in_page(
    web: Web, monkeypatch: pytest.MonkeyPatch
) -> None:
    web.portal.accounts.add_assessor("ada@acme.test", "Ada", "acme", PASSWORD)
    clock, browser = Clock(monkeypatch), web.client()
    for n in range(LOCK_AFTER):
        clock.advance(MAX_DELAY_S)
        wrong = browser.post("/login", data=login_form(browser, f"wrong guess {n}"))
        assert wrong.status_code == 401
    clock.advance(MAX_DELAY_S)
    locked = browser.post("/login", data=login_form(browser, PASSWORD), follow_redirects=False)
    assert locked.status_code == 429 and "retry-after" not in locked.headers
    assert "locked until an operator unlocks it" in locked.text
    assert "prodproven assessor unlock EMAIL" in locked.text


def test_a_password_change_signs_the_assessor_out_of_the_browser(web: Web) -> None:
    browser = web.assessor()
    web.portal.accounts.set_password(OPERATOR, "ada@acme.test", "a brand new password")
    assert browser.get("/runs", follow_redirects=False).status_code == 303


def test_a_removed_assessors_browser_and_tokens_stop_working(web: Web) -> None:
    browser, secret = web.assessor(), web.token()
    web.portal.accounts.remove(OPERATOR, "ada@acme.test")
    assert browser.get("/runs", follow_redirects=False).status_code == 303
    api = web.client().get("/api/me", headers={"Authorization": f"Bearer {secret}"})
    assert api.status_code == 401


# API -------------------------------------------------------------------------------------------
def test_the_api_without_credentials_is_401(web: Web) -> None:
    for path in ("/api/runs", "/api/invitations", "/api/challenges", "/api/me"):
        response = web.client().get(path)
        assert response.status_code == 401
        assert response.headers["www-authenticate"] == "Bearer"


def test_the_api_with_a_wrong_token_is_401(web: Web) -> None:
    response = web.client().get("/api/runs", headers={"Authorization": "Bearer ppt_wrong"})
    assert response.status_code == 401


def test_the_api_with_a_revoked_token_is_401(web: Web) -> None:
    secret = web.token()
    token = web.portal.records.accounts.tokens("ada@acme.test")[0]
    web.portal.accounts.revoke_token(OPERATOR, token.id)
    response = web.client().get("/api/runs", headers={"Authorization": f"Bearer {secret}"})
    assert response.status_code == 401


def test_the_api_with_an_expired_token_is_401_saying_it_expired(web: Web) -> None:
    secret = web.token()
    token = web.portal.records.accounts.tokens("ada@acme.test")[0]
    with web.portal.records.store.session() as s:
        row = s.get(ApiTokenRow, token.id)
        assert row is not None
        row.expires_at = utcnow() - timedelta(minutes=1)
    response = web.client().get("/api/runs", headers={"Authorization": f"Bearer {secret}"})
    assert response.status_code == 401 and "expired" in response.json()["detail"]


def test_a_read_only_token_cannot_invite_or_review(web: Web) -> None:
    run_id = graded_run(web)
    headers = {"Authorization": f"Bearer {web.token('ada@acme.test', 'read')}"}
    client = web.client()
    assert client.get("/api/runs", headers=headers).status_code == 200
    invited = client.post(
        "/api/invitations",
        headers=headers,
        json={"challenge": "deploy-model", "candidate_name": "H", "candidate_email": "h@x.test"},
    )
    assert invited.status_code == 403
    noted = client.post(f"/api/runs/{run_id}/notes", headers=headers, json={"text": "hi"})
    assert noted.status_code == 403


def test_a_token_sees_only_its_firms_runs(web: Web) -> None:
    run_id = graded_run(web)
    outsider = {"Authorization": f"Bearer {web.token('zed@other.test', firm='other')}"}
    client = web.client()
    assert client.get("/api/runs", headers=outsider).json() == []
    assert client.get(f"/api/runs/{run_id}", headers=outsider).status_code == 404
    insider = {"Authorization": f"Bearer {web.token()}"}
    assert [r["id"] for r in client.get("/api/runs", headers=insider).json()] == [run_id]


def test_an_assessor_of_another_firm_cannot_open_a_run(web: Web) -> None:
    run_id = graded_run(web)
    browser = web.assessor("zed@other.test", firm="other")
    assert browser.get(f"/runs/{run_id}").status_code == 404
    assert browser.get(f"/runs/{run_id}/workspace.tar").status_code == 404


def test_an_override_without_a_reason_is_refused_by_the_api(web: Web) -> None:
    run_id = graded_run(web)
    headers = {"Authorization": f"Bearer {web.token()}"}
    client = web.client()
    missing = client.post(f"/api/runs/{run_id}/overrides", headers=headers, json={"score": 50})
    assert missing.status_code == 422
    short = client.post(
        f"/api/runs/{run_id}/overrides", headers=headers, json={"score": 50, "reason": "meh"}
    )
    assert short.status_code == 400
    assert web.portal.records.reviews.for_run(run_id) == []


def test_an_override_without_a_reason_is_refused_by_the_page(web: Web) -> None:
    run_id = graded_run(web)
    browser = web.assessor()
    page = browser.get(f"/runs/{run_id}")
    response = browser.post(
        f"/runs/{run_id}/overrides", data={"csrf": csrf_of(page.text), "score": "50", "reason": ""}
    )
    assert response.status_code == 400
    assert "needs a reason" in response.text
    assert web.portal.records.reviews.for_run(run_id) == []


# hardening -------------------------------------------------------------------------------------
def test_pages_forbid_framing_and_foreign_scripts(web: Web) -> None:
    response = web.client().get("/login")
    assert "script-src 'self'" in response.headers["content-security-policy"]
    assert response.headers["x-frame-options"] == "DENY"


def test_candidate_files_are_downloaded_not_rendered(web: Web) -> None:
    run_id = graded_run(web)
    browser = web.assessor()
    raw = browser.get(f"/runs/{run_id}/files/page.html?raw=1")
    assert raw.headers["content-type"] == "application/octet-stream"
    assert raw.headers["content-disposition"].startswith("attachment")
    shown = browser.get(f"/runs/{run_id}/files/page.html")
    assert "<script>alert(1)</script>" not in shown.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in shown.text


def test_markdown_in_a_notebook_cannot_inject_html(web: Web) -> None:
    run_id = graded_run(web)
    page = web.assessor().get(f"/runs/{run_id}").text
    assert "<script>x()</script>" not in page
