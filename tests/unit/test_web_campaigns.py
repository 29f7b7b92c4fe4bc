"""Assessors' pages of campaigns (runner/web/campaigns.py): ``/campaigns`` lists the firm's
campaigns with their counts and creates one from a form that checks the session's CSRF secret,
showing what it refuses on the page with a 400 and the form refilled; ``/campaigns/{name}``
shows each member's progress and the campaign's email, and closes it. Another firm's campaign
is "not found"."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx2
import pytest
from fastapi.testclient import TestClient

from prodproven.runner.people.campaigns import Campaign, CampaignSpec
from prodproven.runner.portal.access import Actor
from prodproven.runner.runs.store import utcnow
from prodproven.runner.web.campaigns import next_deadline
from tests.unit.websupport import Web, csrf_of, make_web

ACME = Actor("lead@acme.test", "acme")
TEAM = ("Dana", "Eve", "Femi")


@pytest.fixture
def web(tmp_path: Path) -> Web:
    """Acme's team Platform of Dana, Eve and Femi (each with an email address)."""
    made = make_web(tmp_path)
    for name in TEAM:
        made.portal.records.candidates.ensure(name, f"{name.lower()}@people.test")
    operator = Actor("cli:op", None)
    made.portal.teams.save(operator, "Platform", firm="acme")
    made.portal.teams.add(operator, "Platform", TEAM, firm="acme")
    return made


@pytest.fixture
def ada(web: Web) -> TestClient:
    return web.assessor()


def form(**typed: str) -> dict[str, str]:
    """The create form as an assessor fills it: Platform on fix-drift, once, opening today."""
    return {
        "name": "Q1", "team": "Platform", "people": "", "challenge": "fix-drift",
        "competency": "", "cadence_months": "", "opens": utcnow().date().isoformat(),
        "window_days": "14", "remind_days": "3", "lapse_remind_days": "", **typed,
    }  # fmt: skip


def post(browser: TestClient, page: str, action: str, data: dict[str, str]) -> httpx2.Response:
    """Submit a form of ``page`` to ``action`` with the page's CSRF secret."""
    csrf = csrf_of(browser.get(page).text)
    return browser.post(action, data={"csrf": csrf, **data}, follow_redirects=False)


def state_of(html: str, member: str) -> str:
    found = re.search(rf'data-member="{member}".*?data-testid="state">(\w+)<', html, re.S)
    assert found, member
    return found.group(1)


def test_the_navigation_links_the_campaigns_page(ada: TestClient) -> None:
    assert 'href="/campaigns"' in ada.get("/runs").text


def test_the_form_offers_the_firms_teams_the_challenges_and_the_competencies(
    ada: TestClient,
) -> None:
    page = ada.get("/campaigns")
    assert page.status_code == 200
    assert "No campaigns yet." in page.text
    for option in ('value="Platform"', 'value="fix-drift"', 'value="optimization"'):
        assert option in page.text


def test_a_campaign_made_in_the_form_is_listed_with_its_counts(web: Web, ada: TestClient) -> None:
    made = post(ada, "/campaigns", "/campaigns", form())
    assert made.status_code == 303 and made.headers["location"] == "/campaigns/Q1"
    (campaign,) = web.portal.campaigns.campaigns(ACME)
    spec = campaign.spec
    assert (spec.team, spec.challenge, spec.cadence_months, spec.window_days) == (
        "Platform", "fix-drift", None, 14
    )  # fmt: skip
    assert spec.opens_at == datetime.combine(utcnow().date(), datetime.min.time(), UTC)
    listed = ada.get("/campaigns").text
    row = re.search(r'<tr data-campaign="Q1">.*?</tr>', listed, re.S)
    assert row is not None and "once" in row.group(0)
    assert '<td class="num" data-state="scheduled">3</td>' in row.group(0)


def test_a_form_without_the_csrf_secret_is_refused(web: Web, ada: TestClient) -> None:
    forged = ada.post("/campaigns", data={**form(), "csrf": "nope"}, follow_redirects=False)
    assert forged.status_code == 403
    assert web.portal.campaigns.campaigns(ACME) == []


@pytest.mark.parametrize(
    ("typed", "shown"),
    [
        ({"people": "Dana"}, "name either a team or people, not both"),
        ({"challenge": "", "competency": ""}, "name either a challenge or a competency"),
        ({"team": "Nobody"}, "Nobody"),
        ({"challenge": "no-such-thing"}, "no-such-thing"),
        ({"team": "", "people": "Zed"}, "no candidate 'Zed'"),
        ({"window_days": "two"}, "the window (window_days) must be a number"),
        ({"cadence_months": "1.5"}, "must be a whole number"),
        ({"remind_days": "30"}, "remind_days"),
        ({"opens": "tomorrow"}, "the opening date must be YYYY-MM-DD"),
    ],
)
def test_what_the_form_or_the_portal_refuses_is_shown_on_the_page_refilled(
    web: Web, ada: TestClient, typed: dict[str, str], shown: str
) -> None:
    refused = post(ada, "/campaigns", "/campaigns", form(**typed))
    assert refused.status_code == 400
    (error,) = re.findall(r'<p class="error" role="alert">(.*?)</p>', refused.text, re.S)
    assert shown in error.replace("&#39;", "'")
    assert 'name="name" required maxlength="100" value="Q1"' in refused.text
    assert web.portal.campaigns.campaigns(ACME) == []


def test_the_campaign_page_shows_each_members_progress_and_its_email(
    web: Web, ada: TestClient
) -> None:
    post(ada, "/campaigns", "/campaigns", form())
    before = ada.get("/campaigns/Q1")
    assert [state_of(before.text, name) for name in TEAM] == ["scheduled"] * 3
    assert "No email yet" in before.text
    web.portal.campaigns.run_due()
    after = ada.get("/campaigns/Q1").text
    assert [state_of(after, name) for name in TEAM] == ["invited"] * 3
    assert 'data-state="invited">invited 3</span>' in after
    email = re.search(r'<table data-testid="campaign-outbox">.*?</table>', after, re.S)
    assert email is not None
    for name in TEAM:
        assert f"{name.lower()}@people.test" in email.group(0)
    assert email.group(0).count("campaign.invitation") == 3
    assert email.group(0).count(">queued<") == 3  # no SMTP server configured


def test_another_campaigns_email_is_not_on_the_page(web: Web, ada: TestClient) -> None:
    web.portal.invitations.invite(ACME, "fix-drift", "Dana", "dana@people.test")  # known to acme
    post(ada, "/campaigns", "/campaigns", form())
    made = post(ada, "/campaigns", "/campaigns", form(name="Q2", team="", people="Dana"))
    assert made.status_code == 303, made.text
    web.portal.campaigns.run_due()
    page = ada.get("/campaigns/Q2").text
    email = re.search(r'<table data-testid="campaign-outbox">.*?</table>', page, re.S)
    assert email is not None and email.group(0).count("campaign.invitation") == 1


def test_closing_a_campaign_stops_it_and_takes_the_button_away(web: Web, ada: TestClient) -> None:
    post(ada, "/campaigns", "/campaigns", form())
    closed = post(ada, "/campaigns/Q1", "/campaigns/Q1/close", {})
    assert closed.status_code == 303 and closed.headers["location"] == "/campaigns/Q1"
    assert web.portal.campaigns.campaign(ACME, "Q1").closed_at is not None
    page = ada.get("/campaigns/Q1").text
    assert 'data-testid="campaign-state">closed' in page
    assert "Close campaign" not in page
    assert web.portal.campaigns.run_due() == []


def test_closing_without_the_csrf_secret_is_refused(web: Web, ada: TestClient) -> None:
    post(ada, "/campaigns", "/campaigns", form())
    forged = ada.post("/campaigns/Q1/close", data={"csrf": "nope"}, follow_redirects=False)
    assert forged.status_code == 403
    assert web.portal.campaigns.campaign(ACME, "Q1").closed_at is None


def test_another_firms_campaign_is_not_found(web: Web, ada: TestClient) -> None:
    post(ada, "/campaigns", "/campaigns", form())
    globex = web.assessor("gus@globex.test", "globex")
    assert globex.get("/campaigns/Q1").status_code == 404
    # the row, not a bare "Q1", which a random CSRF token can contain
    assert 'data-campaign="Q1"' not in globex.get("/campaigns").text
    closing = post(globex, "/campaigns", "/campaigns/Q1/close", {})
    assert closing.status_code == 404
    assert web.portal.campaigns.campaign(ACME, "Q1").closed_at is None


def campaign(spec: CampaignSpec, closed: bool = False) -> Campaign:
    now = utcnow()
    return Campaign("c1", "acme", spec, -1, "lead", now, now if closed else None)


def test_the_next_deadline_is_the_open_cycles_then_the_next_ones() -> None:
    now = datetime(2026, 5, 10, tzinfo=UTC)
    quarterly = CampaignSpec(
        "Q", datetime(2026, 1, 1, tzinfo=UTC), 14, challenge="fix-drift", cadence_months=3
    )
    assert next_deadline(campaign(quarterly), now) == datetime(2026, 7, 15, tzinfo=UTC)
    assert next_deadline(campaign(quarterly), datetime(2026, 4, 3, tzinfo=UTC)) == datetime(
        2026, 4, 15, tzinfo=UTC
    )
    once = CampaignSpec("O", now - timedelta(days=1), 14, challenge="fix-drift")
    assert next_deadline(campaign(once), now) == now + timedelta(days=13)
    assert next_deadline(campaign(once), now + timedelta(days=13)) is None
    assert next_deadline(campaign(quarterly, closed=True), now) is None
