"""The JSON API refuses every mistake and hostile body with a 4xx and a readable message:
challenge ids only, numbers finite and in range, text within its size, lists in pages; nothing
is created when it refuses."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from prodproven.runner.people.reviews import MAX_TEXT
from prodproven.runner.web.api import MAX_PAGE
from tests.unit.websupport import Web, graded_run, make_web


@pytest.fixture
def web(tmp_path: Path) -> Web:
    return make_web(tmp_path)


@pytest.fixture
def api(web: Web) -> TestClient:
    return web.api()


def invitation(**changes: object) -> dict[str, object]:
    return {
        "challenge": "deploy-model",
        "candidate_name": "Cleo",
        "candidate_email": "cleo@x.test",
        **changes,
    }


def test_the_api_refuses_a_path_as_the_challenge_without_echoing_files(
    web: Web, api: TestClient, tmp_path: Path
) -> None:
    secret = tmp_path / "shadow"
    secret.write_text("root:$6$very-secret-hash:19000:0:99999:7:::\n")
    folder = tmp_path / "evil"
    folder.mkdir()
    (folder / "challenge.yaml").symlink_to(secret)
    answers = [
        api.post("/api/invitations", json=invitation(challenge=ref))
        for ref in (str(folder), "/etc", "/no/such/folder", "../deploy-model", "no-such-one")
    ]
    assert {a.status_code for a in answers} <= {404, 422}
    assert not any("secret" in a.text or "root:" in a.text for a in answers)
    assert answers[0].text == answers[1].text == answers[2].text  # path existence not told
    assert web.portal.records.invitations.list() == []


def test_an_invitation_grants_extra_time_and_lists_it(api: TestClient) -> None:
    answer = api.post("/api/invitations", json=invitation(extra_percent=25))
    assert answer.status_code == 201, answer.text
    granted = answer.json()["invitation"]
    assert (granted["extra_minutes"], granted["extra_percent"]) == (0, 25)
    assert api.get("/api/invitations").json()[0]["extra_percent"] == 25


def test_extra_time_in_minutes_and_percent_at_once_is_refused(web: Web, api: TestClient) -> None:
    answer = api.post("/api/invitations", json=invitation(extra_minutes=30, extra_percent=25))
    assert answer.status_code in (400, 422) and "not both" in answer.text
    assert web.portal.records.invitations.list() == []


@pytest.mark.parametrize(
    "body",
    [
        '{"days": Infinity}',
        '{"days": -Infinity}',
        '{"days": NaN}',
        '{"days": 1e308}',
        '{"days": 0}',
        '{"variant": 100000000000000000000}',
        '{"variant": -1}',
        '{"candidate_name": ""}',
        '{"extra_minutes": 601}',
        '{"extra_percent": -1}',
        '{"extra_percent": 2.5}',
    ],
)
def test_invitation_numbers_that_are_not_finite_or_in_range_are_422(
    web: Web, api: TestClient, body: str
) -> None:
    base = '{"challenge": "deploy-model", "candidate_name": "Cleo", "candidate_email": "c@x.t", '
    answer = api.post(
        "/api/invitations",
        content=base + body[1:],
        headers={"Content-Type": "application/json"},
    )
    assert answer.status_code == 422, answer.text
    assert answer.json()["detail"][0]["loc"][0] == "body"
    assert web.portal.records.invitations.list() == []


@pytest.mark.parametrize("score", ["NaN", "Infinity", "1e308", "-1"])
def test_an_override_score_of_nan_or_out_of_range_is_422(
    web: Web, api: TestClient, score: str
) -> None:
    run_id = graded_run(web)
    answer = api.post(
        f"/api/runs/{run_id}/overrides",
        content=f'{{"score": {score}, "reason": "the load test hit a noisy neighbour"}}',
        headers={"Content-Type": "application/json"},
    )
    assert answer.status_code == 422, answer.text
    assert web.portal.records.reviews.for_run(run_id) == []


def test_a_note_over_its_size_is_422_and_a_huge_body_413(web: Web, api: TestClient) -> None:
    run_id = graded_run(web)
    long = api.post(f"/api/runs/{run_id}/notes", json={"text": "x" * (MAX_TEXT + 1)})
    assert long.status_code == 422
    assert "x" * 100 not in long.text  # the value sent is not echoed
    huge = api.post(f"/api/runs/{run_id}/notes", json={"text": "x" * 50_000_000})
    assert huge.status_code == 413 and "limit" in huge.json()["detail"]
    assert web.portal.records.reviews.for_run(run_id) == []


def test_a_minimum_score_that_is_not_a_number_is_422(api: TestClient) -> None:
    for value in ("abc", "nan", "inf", "1e308"):
        assert api.get("/api/runs", params={"min_score": value}).status_code == 422


def test_lists_come_in_pages_of_at_most_the_maximum(web: Web, api: TestClient) -> None:
    for name in ("Ann", "Ben", "Cid"):
        graded_run(web, name)
    first = api.get("/api/runs", params={"limit": 2, "sort": "candidate", "order": "asc"})
    rest = api.get("/api/runs", params={"limit": 2, "offset": 2, "sort": "candidate"})
    assert [r["candidate"] for r in first.json()] == ["Ann", "Ben"]
    assert len(rest.json()) == 1
    assert len(api.get("/api/invitations", params={"limit": 1}).json()) == 1
    assert api.get("/api/runs", params={"limit": MAX_PAGE + 1}).status_code == 422
    assert api.get("/api/invitations", params={"offset": -1}).status_code == 422
