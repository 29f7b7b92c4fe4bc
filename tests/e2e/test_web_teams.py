"""Teams, campaigns and skill gaps in a real headless browser against `prodproven serve` (the
server, browser and helpers of test_web_browser.py, in a server of this module's own, its email
through a real SMTP server, aiosmtpd on 127.0.0.1): an assessor invites three people to
fix-drift (so the firm knows them), makes role profile "ML engineer II" (optimization 3), team
"platform" of the three and a one-off campaign of the team on fix-drift in the web forms. The
server's due-work loop opens the campaign and sends its invitations: three emails arrive, one
per member, each with an /i/ link. One member follows the link from their email, takes
fix-drift and submits the reference solution; the campaign page then shows them passed and the
others invited, the team page shows their optimization current with a level and the others
never measured, coverage 1 of 3, and another member's gap page names optimization missing, with
fix-drift measuring it.

Screenshots are saved under test-artifacts/browser/teams-*.png.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from prodproven.runner.cli.context import Context
from prodproven.runner.config import Settings
from tests.conftest import BUILTIN, free_port
from tests.e2e.test_web_browser import PASSWORD, shot
from tests.e2e.test_web_browser import base_url as base_url
from tests.e2e.test_web_browser import browser as browser
from tests.e2e.test_web_browser import data_dir as data_dir
from tests.integration.test_mail_delivery import Arrived, MailServer, self_signed

# not timing: fix-drift's graders measure no latency.
pytestmark = [pytest.mark.docker, pytest.mark.e2e]

PEOPLE = {"Cleo Park": "cleo@example.com", "Dev Rao": "dev@example.com",
          "Ines Ito": "ines@example.com"}  # fmt: skip
PROFILE = "ML engineer II"
CAMPAIGN = "fix-drift Q4"


@pytest.fixture(scope="module", autouse=True)
def mail_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MailServer]:
    """aiosmtpd on 127.0.0.1, and the environment that points `prodproven serve` at it (autouse,
    so it is set before the module's server starts)."""
    server = MailServer(free_port(), self_signed(tmp_path_factory.mktemp("mail")))
    server.start()
    with pytest.MonkeyPatch.context() as env:
        env.setenv("PRODPROVEN_SMTP_HOST", "127.0.0.1")
        env.setenv("PRODPROVEN_SMTP_PORT", str(server.port))
        env.setenv("PRODPROVEN_SMTP_TLS", "none")
        env.setenv("PRODPROVEN_SMTP_FROM", "assess@acme.test")
        yield server
    server.stop()


def signed_in(browser: Browser, base_url: str) -> Page:
    page = browser.new_context(viewport={"width": 1400, "height": 900}).new_page()
    page.goto(f"{base_url}/teams")
    page.get_by_label("Email").fill("ada@acme.test")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Teams")).to_be_visible()
    return page


def invite(assessor: Page, base_url: str, name: str, email: str) -> None:
    """Invite ``name`` to fix-drift through the form (so the firm knows them)."""
    assessor.goto(f"{base_url}/invitations")
    assessor.get_by_label("Challenge").select_option("fix-drift")
    assessor.get_by_label("Candidate name").fill(name)
    assessor.get_by_label("Candidate email").fill(email)
    assessor.get_by_role("button", name="Create invitation").click()
    expect(assessor.get_by_test_id("invitation-link")).to_be_visible()


def arrived(server: MailServer, count: int, within_s: float = 60) -> list[Arrived]:
    """The messages in ``server`` once there are ``count`` (the due-work loop sends every 5 s)."""
    deadline = time.monotonic() + within_s
    while len(server.inbox.arrived) < count and time.monotonic() < deadline:
        time.sleep(0.5)
    assert len(server.inbox.arrived) == count, [a.rcpt_tos for a in server.inbox.arrived]
    return list(server.inbox.arrived)


def link_in(message: Arrived, base_url: str) -> str:
    body = message.message.get_body()
    assert body is not None
    (link,) = re.findall(rf"{re.escape(base_url)}/i/[\w-]+", body.get_content())
    return str(link)


def member_state(page: Page, member: str) -> str:
    return (
        page.get_by_test_id("progress")
        .locator(f'tr[data-member="{member}"]')
        .get_by_test_id("state")
        .inner_text()
    )


def test_a_campaign_invites_a_team_by_email_and_its_pages_follow_a_members_graded_run(
    base_url: str, browser: Browser, data_dir: Path, mail_server: MailServer
) -> None:
    assessor = signed_in(browser, base_url)
    for name, email in PEOPLE.items():
        invite(assessor, base_url, name, email)

    assessor.get_by_role("link", name="Roles").click()
    assessor.get_by_label("Name").fill(PROFILE)
    assessor.locator('select[name="level-optimization"]').select_option("3")
    assessor.get_by_role("button", name="Save role profile").click()
    roles = assessor.get_by_test_id("roles")
    expect(roles).to_contain_text("optimization 3")
    shot(assessor, "teams-1-roles")

    assessor.get_by_role("link", name="Teams").click()
    assessor.get_by_label("Team name").fill("platform")
    assessor.get_by_label("Description").fill("serves and retrains the churn model")
    assessor.get_by_label(PROFILE).check()
    assessor.get_by_role("button", name="Create team").click()
    expect(assessor.get_by_role("heading", name="platform", exact=True)).to_be_visible()
    assessor.get_by_label(re.compile("Add candidates")).fill("\n".join(PEOPLE))
    assessor.get_by_role("button", name="Add members").click()
    coverage = assessor.get_by_test_id(f"coverage-{PROFILE}")
    expect(coverage).to_have_text("0 of 3")
    shot(assessor, "teams-2-team-created")
    assert mail_server.inbox.arrived == []  # an invitation made in the form is not emailed

    assessor.get_by_role("link", name="Campaigns").click()
    assessor.get_by_label("Campaign name").fill(CAMPAIGN)
    assessor.locator('select[name="team"]').select_option("platform")
    assessor.locator('select[name="challenge"]').select_option("fix-drift")
    assessor.get_by_label(re.compile("Window")).fill("14")
    assessor.get_by_label(re.compile("before the deadline")).fill("3")
    assessor.get_by_role("button", name="Create campaign").click()
    expect(assessor.get_by_role("heading", name=CAMPAIGN)).to_be_visible()
    emails = {a.rcpt_tos[0]: a for a in arrived(mail_server, 3)}
    assert sorted(emails) == sorted(PEOPLE.values())
    assert all(a.message["Subject"].startswith("Re-certification: ") for a in emails.values())
    links = {name: link_in(emails[email], base_url) for name, email in PEOPLE.items()}
    assessor.reload()
    expect(assessor.get_by_test_id("counts").locator('[data-state="invited"]')).to_have_text(
        "invited 3"
    )
    expect(assessor.get_by_test_id("campaign-outbox")).to_contain_text("sent")
    assert [member_state(assessor, name) for name in PEOPLE] == ["invited"] * 3
    shot(assessor, "teams-3-campaign-invited")

    candidate = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    candidate.goto(links["Cleo Park"])
    candidate.get_by_role("button", name="Open my invitation").click()
    candidate.get_by_role("button", name="Start the challenge").click()
    expect(candidate.get_by_test_id("clock")).to_be_visible(timeout=900_000)
    runner = Context(Settings.from_env(data_dir=data_dir)).runner(lambda _: None)
    (run,) = runner.store.list_runs()
    runner.overlay(run.id, BUILTIN / "fix-drift" / "solution")
    ran = runner.autopilot(run.id)  # executes the notebook, as the candidate would
    assert ran is not None and ran.ok, ran and ran.stderr
    candidate.get_by_role("link", name=re.compile("Submit my work")).click()
    candidate.get_by_role("button", name="Yes, submit now").click()
    expect(candidate.get_by_test_id("status-message")).to_contain_text(
        "received and graded", timeout=1_500_000
    )
    shot(candidate, "teams-4-candidate-graded")

    assessor.reload()
    expect(assessor.get_by_test_id("counts").locator('[data-state="passed"]')).to_have_text(
        "passed 1"
    )
    assert [member_state(assessor, name) for name in PEOPLE] == ["passed", "invited", "invited"]
    shot(assessor, "teams-5-campaign-passed")

    assessor.goto(f"{base_url}/teams/platform")
    heatmap = assessor.get_by_test_id("heatmap")
    cleo = heatmap.locator('td[data-member="Cleo Park"][data-competency="optimization"]')
    expect(cleo).to_have_attribute("data-state", "current")
    expect(cleo).to_contain_text(re.compile(r"level [3-5]"))
    expect(cleo).to_contain_text(re.compile(r"\d+\.\d \(\d+\.\d–\d+\.\d\)"))
    expect(cleo).to_contain_text(re.compile(r"lapses \d{4}-\d\d-\d\d"))
    for other in ("Dev Rao", "Ines Ito"):
        cell = heatmap.locator(f'td[data-member="{other}"][data-competency="optimization"]')
        expect(cell).to_have_attribute("data-state", "never measured")
        expect(cell).to_have_text("never measured")
    expect(coverage).to_have_text("1 of 3")
    expect(assessor.get_by_test_id("trend").locator("svg")).to_be_visible()
    shot(assessor, "teams-6-team-page")

    with assessor.expect_download() as downloaded:
        assessor.get_by_role("link", name="Export as CSV").click()
    exported = Path(downloaded.value.path()).read_text()
    assert exported.startswith("member,competency,level,value,")
    assert re.search(r"^Cleo Park,optimization,[3-5],\d+\.\d,", exported, re.M)

    heatmap.get_by_role("link", name="Dev Rao").click()
    expect(assessor.get_by_role("heading", name="Skill gaps of Dev Rao")).to_be_visible()
    expect(assessor.get_by_label("Role profile")).to_have_value(PROFILE)
    gap = assessor.get_by_test_id("gaps").locator('tr[data-competency="optimization"]')
    expect(gap).to_contain_text("missing")
    expect(gap.get_by_role("link", name="fix-drift")).to_be_visible()
    shot(assessor, "teams-7-gaps")

    assessor.get_by_role("link", name="Outbox").click()
    expect(assessor.get_by_role("heading", name="Outbox")).to_be_visible()
    shot(assessor, "teams-8-outbox")
