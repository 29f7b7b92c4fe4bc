"""A person's shared record on the web (runner/web/shares.py, the candidate page's button in
runner/web/candidate.py): the candidate makes the link under their own session, anyone holding
it sees their name, credentials valid now and current levels without signing in, and nothing
private; a revoked link answers as one never made, nothing is cached, and forgetting the
person ends the link and their team memberships."""

from __future__ import annotations

import re
from pathlib import Path

from fastapi.testclient import TestClient

from prodproven.runner.portal.access import Actor
from tests.unit.test_web_credentials import issue, judged, started_and_submitted
from tests.unit.test_web_pages import invitation_link
from tests.unit.websupport import Web, csrf_of, make_web

OPERATOR = Actor("cli:root", None)


def credentialed(web: Web, name: str = "Eve") -> tuple[TestClient, str, str]:
    """The browser of ``name`` after their run was graded, passed and got a credential; the
    run's id and the credential's."""
    candidate = web.candidate(invitation_link(web, name))
    run_id = started_and_submitted(web, candidate)
    location, _ = issue(web, judged(web, run_id))
    return candidate, run_id, location.removeprefix("/credentials/")


def share(web: Web, candidate: TestClient) -> str:
    """Press "share my record" on the candidate's page; the path of the link it shows."""
    page = candidate.get("/candidate")
    answer = candidate.post("/candidate/share", data={"csrf": csrf_of(page.text)})
    assert answer.status_code == 200 and answer.headers["cache-control"] == "no-store"
    found = re.search(r'data-testid="record-link">([^<]+)<', answer.text)
    assert found, "the page shows no record link"
    return found.group(1).removeprefix(web.settings.base_url)


def test_nothing_is_shared_until_the_person_makes_a_link(tmp_path: Path) -> None:
    web = make_web(tmp_path)
    candidate, _, _ = credentialed(web)
    page = candidate.get("/candidate").text
    assert 'data-testid="share-record"' in page
    assert 'data-testid="record-link"' not in page and 'data-testid="record-shared"' not in page


def test_anyone_with_the_link_sees_the_credentials_valid_now_and_the_levels(
    tmp_path: Path,
) -> None:
    web = make_web(tmp_path)
    candidate, _, credential_id = credentialed(web)
    path = share(web, candidate)
    assert path.startswith("/record/")
    page = web.client().get(path)
    assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
    assert 'data-testid="shared-name">Eve<' in page.text
    assert f'href="{web.settings.base_url}/credentials/{credential_id}"' in page.text
    assert "Deploy a model behind an SLO" in page.text
    assert 'data-testid="shared-levels"' in page.text
    found = web.client().get(f"{path}.json")
    assert found.status_code == 200 and found.headers["cache-control"] == "no-store"
    record = found.json()
    assert record["name"] == "Eve"
    assert [c["id"] for c in record["credentials"]] == [credential_id]
    assert record["credentials"][0]["challenge"] == "deploy-model"
    deployment = next(lv for lv in record["levels"] if lv["competency"] == "deployment")
    assert 1 <= deployment["level"] <= 5
    low, high = deployment["interval"]
    assert low <= deployment["value"] <= high
    assert 'data-testid="record-shared"' in candidate.get("/candidate").text


def test_the_shared_record_carries_nothing_private(tmp_path: Path) -> None:
    web = make_web(tmp_path)
    candidate, run_id, _ = credentialed(web)
    path = share(web, candidate)
    record = web.client().get(f"{path}.json").json()
    assert set(record) == {"name", "at", "credentials", "levels"}
    assert set(record["credentials"][0]) == {"id", "challenge", "title", "issued", "expires", "url"}
    assert {k for lv in record["levels"] for k in lv} == {
        "competency", "label", "value", "level", "interval", "lapses"
    }  # fmt: skip
    for shown in (web.client().get(path).text, str(record)):
        for private in (run_id, "eve@x.test", "lead@acme.test", "ada@acme.test", "/runs/"):
            assert private not in shown
        assert "grader" not in shown.lower() and "score" not in shown.lower()


def test_a_revoked_link_answers_like_one_never_made(tmp_path: Path) -> None:
    web = make_web(tmp_path)
    candidate, _, _ = credentialed(web)
    path = share(web, candidate)
    page = candidate.get("/candidate")
    candidate.post("/candidate/unshare", data={"csrf": csrf_of(page.text)})
    browser = web.client()
    for suffix in ("", ".json"):
        revoked, unknown = browser.get(path + suffix), browser.get(f"/record/never-made{suffix}")
        assert revoked.status_code == unknown.status_code == 404
        assert revoked.text == unknown.text
        assert revoked.headers["cache-control"] == "no-store"
    assert 'data-testid="record-shared"' not in candidate.get("/candidate").text


def test_a_new_link_ends_the_old_one(tmp_path: Path) -> None:
    web = make_web(tmp_path)
    candidate, _, _ = credentialed(web)
    old = share(web, candidate)
    new = share(web, candidate)
    assert web.client().get(old).status_code == 404
    assert web.client().get(new).status_code == 200


def test_sharing_needs_the_forms_csrf_secret(tmp_path: Path) -> None:
    web = make_web(tmp_path)
    candidate, _, _ = credentialed(web)
    assert candidate.post("/candidate/share", data={"csrf": "forged"}).status_code == 403
    assert web.client().post("/candidate/share", data={"csrf": "forged"}).status_code == 401


def test_a_revoked_credential_and_the_levels_it_attested_leave_the_record(
    tmp_path: Path,
) -> None:
    web = make_web(tmp_path)
    candidate, _, credential_id = credentialed(web)
    path = share(web, candidate)
    web.portal.records.credentials.revoke(credential_id, "ada@acme.test", "copied from a friend")
    record = web.client().get(f"{path}.json").json()
    assert (record["credentials"], record["levels"]) == ([], [])
    assert "No credential is valid now" in web.client().get(path).text


def test_forgetting_the_person_ends_their_link_and_their_team_memberships(
    tmp_path: Path,
) -> None:
    web = make_web(tmp_path)
    candidate, _, _ = credentialed(web)
    path = share(web, candidate)
    web.portal.teams.save(OPERATOR, "Platform", firm="acme")
    web.portal.teams.add(OPERATOR, "Platform", ["Eve"], firm="acme")
    done = web.portal.candidates.forget(OPERATOR, "Eve")
    assert done.others == {
        "team_memberships": 1, "campaign_places": 0, "record_links": 1, "fingerprints": 0,
    }  # fmt: skip
    assert web.client().get(path).status_code == 404
    assert web.portal.teams.team(OPERATOR, "Platform", firm="acme").members == []
