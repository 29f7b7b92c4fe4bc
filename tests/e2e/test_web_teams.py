"""The team dashboard and skill gaps in a real headless browser against `prodproven serve` (the
server, browser and helpers of test_web_browser.py, in a server of this module's own): an
assessor invites three people to fix-drift, makes role profile "ML engineer II" (optimization
3) and team "platform" of the three in the web forms; one of them takes fix-drift and submits
the reference solution; the team page then shows that member's optimization current with a
level and the others never measured, coverage 1 of 3, and another member's gap page names
optimization missing, with fix-drift measuring it.

Screenshots are saved under test-artifacts/browser/teams-*.png.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from prodproven.runner.cli.context import Context
from prodproven.runner.config import Settings
from tests.conftest import BUILTIN
from tests.e2e.test_web_browser import PASSWORD, shot
from tests.e2e.test_web_browser import base_url as base_url
from tests.e2e.test_web_browser import browser as browser
from tests.e2e.test_web_browser import data_dir as data_dir

# not timing: fix-drift's graders measure no latency.
pytestmark = [pytest.mark.docker, pytest.mark.e2e]

PEOPLE = {"Cleo Park": "cleo@example.com", "Dev Rao": "dev@example.com",
          "Ines Ito": "ines@example.com"}  # fmt: skip
PROFILE = "ML engineer II"


def signed_in(browser: Browser, base_url: str) -> Page:
    page = browser.new_context(viewport={"width": 1400, "height": 900}).new_page()
    page.goto(f"{base_url}/teams")
    page.get_by_label("Email").fill("ada@acme.test")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Teams")).to_be_visible()
    return page


def invite(assessor: Page, base_url: str, name: str, email: str) -> str:
    """Invite ``name`` to fix-drift through the form; their link."""
    assessor.goto(f"{base_url}/invitations")
    assessor.get_by_label("Challenge").select_option("fix-drift")
    assessor.get_by_label("Candidate name").fill(name)
    assessor.get_by_label("Candidate email").fill(email)
    assessor.get_by_role("button", name="Create invitation").click()
    return assessor.get_by_test_id("invitation-link").input_value()


def test_a_team_dashboard_and_gaps_follow_a_members_graded_run(
    base_url: str, browser: Browser, data_dir: Path
) -> None:
    assessor = signed_in(browser, base_url)
    links = {name: invite(assessor, base_url, name, email) for name, email in PEOPLE.items()}

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
    shot(candidate, "teams-3-candidate-graded")

    assessor.reload()
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
    shot(assessor, "teams-4-team-page")

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
    shot(assessor, "teams-5-gaps")

    assessor.get_by_role("link", name="Outbox").click()
    expect(assessor.get_by_role("heading", name="Outbox")).to_be_visible()
    shot(assessor, "teams-6-outbox")
