"""Assessors' pages (runner/web/assessor.py) answer every mistake with a readable 400, never a
500: numbers typed into forms and query strings, a path where a challenge id belongs, a
candidate's file named with an emoji, a broken challenge on the challenge path."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path
from urllib.parse import quote

import pytest

from prodproven.runner.people.invitations import Accommodation
from prodproven.runner.portal.access import Actor
from prodproven.runner.web import assessor
from tests.unit.websupport import Web, csrf_of, graded_run, make_web


@pytest.fixture
def web(tmp_path: Path) -> Web:
    return make_web(tmp_path)


def test_a_minimum_score_that_is_not_a_number_is_a_400_not_a_500(web: Web) -> None:
    browser = web.assessor()
    for value in ("abc", "nan", "inf", "1e308", "-5"):
        page = browser.get("/runs", params={"min_score": value})
        assert page.status_code == 400, value
        assert "minimum score" in page.text
    assert browser.get("/runs", params={"min_score": " "}).status_code == 200


@pytest.mark.parametrize("days", ["inf", "nan", "1e308", "-1", "ten"])
def test_invitation_days_that_are_not_finite_or_in_range_are_refused_by_the_form(
    web: Web, days: str
) -> None:
    browser = web.assessor()
    form = {"challenge": "deploy-model", "name": "Cleo", "email": "cleo@x.test", "days": days}
    form["csrf"] = csrf_of(browser.get("/invitations").text)
    page = browser.post("/invitations", data=form)
    assert page.status_code == 400 and "days" in page.text
    assert web.portal.records.invitations.list() == []


def test_the_invite_form_grants_extra_time_and_the_list_shows_it(web: Web) -> None:
    browser = web.assessor()
    form = {"challenge": "deploy-model", "name": "Cleo", "email": "cleo@x.test"}
    form |= {"extra_minutes": "30", "csrf": csrf_of(browser.get("/invitations").text)}
    page = browser.post("/invitations", data=form)
    assert page.status_code == 200 and "Extra time granted" in page.text
    [created] = web.portal.records.invitations.list()
    assert created.accommodation.minutes == 30
    assert "+30 min" in browser.get("/invitations").text


def test_the_run_page_shows_assessors_the_extra_time_granted(web: Web) -> None:
    lead = Actor("lead@acme.test", "acme")
    granted = Accommodation(percent=25)
    _, link = web.portal.invitations.invite(
        lead, "deploy-model", "Dana", "dana@x.test", accommodation=granted
    )
    invitation = web.portal.records.invitations.redeem(link.rsplit("/", 1)[1])
    run = web.portal.invited.start(invitation.id)
    page = web.assessor().get(f"/runs/{run.id}")
    assert "extra time granted: +25 %" in page.text
    assert "extra time granted" not in web.assessor().get(f"/runs/{graded_run(web)}").text


@pytest.mark.parametrize(
    ("field", "value"), [("extra_minutes", "601"), ("extra_percent", "nan"), ("extra_minutes", "x")]
)
def test_extra_time_out_of_range_is_refused_by_the_form(web: Web, field: str, value: str) -> None:
    browser = web.assessor()
    form = {"challenge": "deploy-model", "name": "Cleo", "email": "cleo@x.test", field: value}
    form["csrf"] = csrf_of(browser.get("/invitations").text)
    page = browser.post("/invitations", data=form)
    assert page.status_code == 400 and "extra" in page.text
    assert web.portal.records.invitations.list() == []


def test_the_invite_form_refuses_a_path_as_the_challenge_and_creates_nothing(
    web: Web, tmp_path: Path
) -> None:
    secret = tmp_path / "shadow"
    secret.write_text("root:$6$very-secret-hash:19000:0:99999:7:::\n")
    (tmp_path / "evil").mkdir()
    (tmp_path / "evil" / "challenge.yaml").symlink_to(secret)
    browser = web.assessor()
    csrf = csrf_of(browser.get("/invitations").text)
    pages = [
        browser.post(
            "/invitations",
            data={"csrf": csrf, "challenge": ref, "name": "Cleo", "email": "cleo@x.test"},
        )
        for ref in (str(tmp_path / "evil"), "/no/such/folder")
    ]
    assert [p.status_code for p in pages] == [400, 400]
    assert "secret" not in pages[0].text and str(tmp_path) not in pages[0].text
    assert web.portal.records.invitations.list() == []


@pytest.mark.parametrize("score", ["NaN", "inf", "1e308", "", "lots"])
def test_an_override_that_is_not_a_number_from_0_to_100_is_refused_by_the_page(
    web: Web, score: str
) -> None:
    run_id = graded_run(web)
    browser = web.assessor()
    csrf = csrf_of(browser.get(f"/runs/{run_id}").text)
    form = {"csrf": csrf, "score": score, "reason": "the load test hit a noisy neighbour"}
    page = browser.post(f"/runs/{run_id}/overrides", data=form)
    assert page.status_code == 400 and "score" in page.text
    assert web.portal.records.reviews.for_run(run_id) == []


def test_a_file_name_with_an_emoji_is_listed_shown_and_downloaded(web: Web) -> None:
    run_id = graded_run(web)
    archive = Path(str(web.portal.records.store.get(run_id).archive_path))
    name = 'résumé "final" 🚀.txt'
    with tarfile.open(archive, "w") as tar:
        info = tarfile.TarInfo(f"./{name}")
        info.size = 5
        tar.addfile(info, io.BytesIO(b"hello"))
    browser = web.assessor()
    assert "🚀" in browser.get(f"/runs/{run_id}").text
    shown = browser.get(f"/runs/{run_id}/files/{quote(name)}")
    assert shown.status_code == 200 and "hello" in shown.text
    raw = browser.get(f"/runs/{run_id}/files/{quote(name)}", params={"raw": 1})
    assert raw.status_code == 200 and raw.content == b"hello"
    disposition = raw.headers["content-disposition"]
    assert disposition.startswith("attachment;") and quote(name, safe="") in disposition
    assert browser.get(f"/runs/{run_id}/report.html").status_code == 200


def test_pages_work_with_a_broken_challenge_and_say_how_many_did_not_load(
    web: Web, tmp_path: Path
) -> None:
    broken = web.settings.installed_challenges / "broken-one"
    broken.mkdir(parents=True)
    (broken / "challenge.yaml").write_text("id: [unclosed\n")
    browser = web.assessor()
    for path in ("/runs", "/invitations", "/compare", "/compare?challenge=deploy-model"):
        page = browser.get(path)
        assert page.status_code == 200, path
        assert "1 challenge could not be loaded" in page.text
    api = web.client().get("/api/challenges", headers={"Authorization": f"Bearer {web.token()}"})
    assert api.status_code == 200
    ids = [c["id"] for c in api.json()]
    assert "deploy-model" in ids and "broken-one" not in ids


def test_the_runs_page_shows_at_most_its_cap_and_says_so(
    web: Web, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(assessor, "SHOWN_RUNS", 2)
    for name in ("Ann", "Ben", "Cid"):
        graded_run(web, name)
    page = web.assessor().get("/runs")
    assert page.text.count('<a href="/runs/') == 2
    assert "first 2 of 3 runs" in page.text
