"""A terminal recording played on the run page, in a real headless browser against `prodproven
serve` (the server, browser and helpers of test_web_browser.py, in a server of this module's
own): an assessor invites a candidate to the SLO lab (tests/integration/labs/slo-lab, whose
incident is injected 4 s into the run), the candidate starts it from their page, and once the
incident is injected types two commands in a JupyterLab terminal through the app's proxy (the
terminal's WebSocket driven as test_recording.py does): one printing `hello-recording`, one
writing a workspace file. They submit; the assessor's run page plays the recording in the
asciinema-player served by the app, jumps to the first command after the injection and shows
its text, and the timeline lists the new file, whose step's diff shows it.

The player's files come from infra/dev.sh (`ensure_player`): without them the test fails,
saying so. Screenshots are saved under test-artifacts/browser/recording-*.png.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from prodproven.runner.cli.context import Context
from prodproven.runner.config import Settings
from prodproven.runner.runs.store import Store
from prodproven.runner.spec.challenge import Challenge
from prodproven.runner.web.workprocess import player_installed
from tests.e2e.test_web_browser import base_url as base_url
from tests.e2e.test_web_browser import browser as browser
from tests.e2e.test_web_browser import data_dir as data_dir
from tests.e2e.test_web_browser import shot
from tests.e2e.test_web_teams import signed_in
from tests.integration.test_lab import proxied_terminal
from tests.integration.test_lab import slo_lab as slo_lab
from tests.integration.test_recording import new_terminal

# not timing: nothing here is timed, and the lab's graders' scores are not looked at.
pytestmark = [pytest.mark.docker, pytest.mark.e2e]

TYPED = "echo hello-recording"
JUMP = "first command or cell after it"
EDIT = "printf 'edited in the terminal\\n' > /workspace/notes.txt"


@pytest.fixture(scope="module", autouse=True)
def lab_offered(slo_lab: Challenge) -> Iterator[None]:
    """The SLO lab's folder among the challenges of `prodproven serve` (autouse, so it is set
    before the module's server starts); the player's files installed, or the test fails."""
    assert player_installed(), (
        "the recordings' player is not in runner/present/static/player: run infra/dev.sh test "
        "(its ensure_player installs it from infra/player/package-lock.json)"
    )
    with pytest.MonkeyPatch.context() as env:
        env.setenv("PRODPROVEN_CHALLENGES_PATH", str(slo_lab.root.parent))
        yield


def await_event(store: Store, run_id: str, kind: str, within_s: float) -> None:
    deadline = time.monotonic() + within_s
    while not any(e.kind == kind for e in store.events(run_id)):
        assert time.monotonic() < deadline, f"no {kind} event within {within_s} s"
        time.sleep(0.5)


def typed_in(base_url: str, cookies: httpx.Cookies, terminal: str, command: str) -> str:
    """What ``command`` typed in ``terminal`` printed, typed from a thread of its own (this
    thread's event loop is Playwright's)."""
    with ThreadPoolExecutor(1) as pool:
        typing = proxied_terminal(base_url, cookies, terminal, command)
        return pool.submit(asyncio.run, typing).result()


def started_run(browser: Browser, assessor: Page, base_url: str) -> Page:
    """The candidate's page of an SLO lab run they started from the assessor's invitation."""
    assessor.goto(f"{base_url}/invitations")
    assessor.get_by_label("Challenge").select_option("slo-lab")
    assessor.get_by_label("Candidate name").fill("Cleo Park")
    assessor.get_by_label("Candidate email").fill("cleo@example.com")
    assessor.get_by_role("button", name="Create invitation").click()
    link = assessor.get_by_test_id("invitation-link").input_value()
    candidate = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    candidate.goto(link)
    candidate.get_by_role("button", name="Open my invitation").click()
    candidate.get_by_role("button", name="Start the challenge").click()
    expect(candidate.get_by_test_id("clock")).to_be_visible(timeout=300_000)
    return candidate


def test_the_run_page_plays_the_recording_from_the_first_command_after_the_incident(
    base_url: str, browser: Browser, data_dir: Path
) -> None:
    assessor = signed_in(browser, base_url)
    candidate = started_run(browser, assessor, base_url)
    shot(candidate, "recording-1-candidate-running")
    runner = Context(Settings.from_env(data_dir=data_dir)).runner(lambda _: None)
    (run,) = runner.store.list_runs()
    await_event(runner.store, run.id, "incident.injected", within_s=60)

    cookies = {c["name"]: c["value"] for c in candidate.context.cookies()}
    with httpx.Client(base_url=base_url, cookies=cookies, trust_env=False, timeout=60) as lab:
        terminal = new_terminal(lab, base_url)
        assert "hello-recording" in typed_in(base_url, lab.cookies, terminal, TYPED)
        typed_in(base_url, lab.cookies, terminal, EDIT)

    candidate.get_by_role("link", name=re.compile("Submit my work")).click()
    candidate.get_by_role("button", name="Yes, submit now").click()
    expect(candidate.get_by_test_id("status-message")).to_contain_text(
        "received and graded", timeout=600_000
    )
    shot(candidate, "recording-2-candidate-submitted")

    assessor.goto(f"{base_url}/runs/{run.id}")
    card = assessor.get_by_test_id("work-process")
    expect(card.locator("li", has_text=JUMP)).to_contain_text(TYPED)
    recording = card.locator("[data-recording]").filter(
        has=assessor.get_by_role("button", name=JUMP)
    )
    expect(recording).to_have_count(1)
    player = recording.locator("[data-cast] .ap-player")
    expect(player).to_be_visible(timeout=30_000)
    shot(assessor, "recording-3-assessor-player")
    recording.get_by_role("button", name=JUMP).click()
    screen = recording.locator(".ap-term-text")
    expect(screen).to_contain_text("hello-recording", timeout=30_000)
    expect(screen).not_to_contain_text("edited in the terminal")  # typed in the next recording
    shot(assessor, "recording-4-assessor-jumped")

    timeline = card.get_by_test_id("timeline")
    row = timeline.locator("tr", has_text="notes.txt")
    expect(row).to_contain_text("created +1 -0")
    row.get_by_role("link").click()
    expect(assessor.locator("body")).to_contain_text("+edited in the terminal")
    shot(assessor, "recording-5-assessor-step-diff")
