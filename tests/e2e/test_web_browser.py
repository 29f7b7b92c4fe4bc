"""The web app in a real headless browser (Debian's chromium driven by Playwright), against
`prodproven serve` started as a user would: an assessor invites, the candidate opens the link,
starts, sees the clock, opens JupyterLab through the app's own origin (its file browser, and a
terminal whose WebSocket goes through the app's proxy), submits (the reference solution stands
in for their work), and the assessor sees the graded run with its plots and overrides it.

Screenshots of every step are saved under test-artifacts/browser/.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from prodproven.runner.cli.context import Context
from prodproven.runner.config import Settings
from tests.conftest import BUILTIN, REPO_ROOT, free_port

# timing: it grades deploy-model, whose load graders measure latency, and wants 90 or more.
pytestmark = [pytest.mark.docker, pytest.mark.e2e, pytest.mark.timing]

ARTIFACTS = REPO_ROOT / "test-artifacts" / "browser"
PASSWORD = "correct horse battery"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def cli(data_dir: Path, *args: str, stdin: str = "") -> str:
    proc = subprocess.run(
        [sys.executable, "-m", "prodproven.runner.cli", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env={**os.environ, "PRODPROVEN_DATA_DIR": str(data_dir)},
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("web")


@pytest.fixture(scope="module")
def base_url(data_dir: Path) -> Iterator[str]:
    cli(data_dir, "assessor", "add", "ada@acme.test", "--name", "Ada", "--firm", "acme",
        "--password-stdin", stdin=PASSWORD + "\n")  # fmt: skip
    port = free_port()
    log = (data_dir / "serve.log").open("wb")
    server = subprocess.Popen(
        [sys.executable, "-m", "prodproven.runner.cli", "serve", "--port", str(port)],
        env={**os.environ, "PRODPROVEN_DATA_DIR": str(data_dir)},
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            time.sleep(0.2)
    yield url
    server.terminate()
    server.wait(timeout=10)
    runner = Context(Settings.from_env(data_dir=data_dir)).runner(lambda _: None)
    for run in runner.store.list_runs():
        runner.backend.remove_run(run.id)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


def shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def seconds(clock: str) -> int:
    parts = [int(p) for p in clock.split(":")]
    return sum(value * 60**power for power, value in enumerate(reversed(parts)))


def test_invite_take_submit_and_review_in_a_browser(
    base_url: str, browser: Browser, data_dir: Path
) -> None:
    assessor = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    assessor.goto(f"{base_url}/runs")
    assessor.get_by_label("Email").fill("ada@acme.test")
    assessor.get_by_label("Password").fill(PASSWORD)
    assessor.get_by_role("button", name="Sign in").click()
    expect(assessor.get_by_role("heading", name="Runs")).to_be_visible()

    assessor.goto(f"{base_url}/invitations")
    assessor.get_by_label("Challenge").select_option("deploy-model")
    assessor.get_by_label("Candidate name").fill("Cleo Park")
    assessor.get_by_label("Candidate email").fill("cleo@example.com")
    assessor.get_by_role("button", name="Create invitation").click()
    link = assessor.get_by_test_id("invitation-link").input_value()
    assert re.fullmatch(rf"{base_url}/i/[\w-]{{40,}}", link)
    shot(assessor, "1-assessor-invited")

    candidate = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    candidate.goto(link)
    candidate.get_by_role("button", name="Open my invitation").click()
    header = candidate.locator("#live")
    expect(header.get_by_role("heading", name="Deploy a model behind an SLO")).to_be_visible()
    shot(candidate, "2-candidate-brief")
    candidate.get_by_role("button", name="Start the challenge").click()
    clock = candidate.get_by_test_id("clock")
    expect(clock).to_be_visible(timeout=600_000)
    first = seconds(clock.inner_text())
    assert 85 * 60 < first <= 90 * 60
    time.sleep(2.5)
    assert seconds(clock.inner_text()) < first, "the clock counts down"
    shot(candidate, "3-candidate-running")

    candidate.reload()
    expect(clock).to_be_visible()
    assert seconds(clock.inner_text()) <= first, "a refresh keeps the server's deadline"

    settings = Settings.from_env(data_dir=data_dir)
    runner = Context(settings).runner(lambda _: None)
    (run,) = runner.store.list_runs()

    # JupyterLab through the app's own origin (its proxy), as a remote candidate would.
    with candidate.context.expect_page() as opened:
        candidate.get_by_role("link", name=re.compile("JupyterLab")).click()
    lab = opened.value
    lab.wait_for_load_state()
    assert lab.url.startswith(f"{base_url}/candidate/lab/"), lab.url
    assert "token=" not in lab.url
    expect(lab).to_have_title(re.compile("JupyterLab"), timeout=60_000)
    expect(lab.locator("#jupyterlab-splash")).to_have_count(0, timeout=60_000)
    listing = lab.locator(".jp-DirListing-content")
    expect(listing.get_by_text("app.py", exact=True)).to_be_visible(timeout=60_000)
    shot(lab, "4-candidate-jupyterlab")

    # A terminal from the Launcher: its WebSocket goes through the proxy too.
    with lab.expect_websocket(lambda ws: "/terminals/websocket/" in ws.url) as connecting:
        lab.locator(".jp-LauncherCard[data-category='Other']", has_text="Terminal").first.click()
    socket = connecting.value
    assert socket.url.startswith(base_url.replace("http", "ws", 1) + "/candidate/lab/"), socket.url
    socket.wait_for_event("framereceived", timeout=60_000)  # the shell said something
    terminal = lab.locator(".jp-Terminal .xterm")
    expect(terminal).to_be_visible(timeout=60_000)
    terminal.click()
    lab.keyboard.type("id -u > /workspace/whoami.txt")
    lab.keyboard.press("Enter")
    _, workspace = runner.workspace(run.id)
    deadline = time.monotonic() + 30
    while True:
        typed = workspace.exec(["cat", "/workspace/whoami.txt"], timeout=10)
        if typed.ok and typed.stdout.strip():
            break
        assert time.monotonic() < deadline, f"the terminal wrote nothing: {typed.stderr}"
        time.sleep(0.5)
    assert typed.stdout.strip() == "1000"
    shot(lab, "5-candidate-terminal")
    lab.close()

    runner.overlay(run.id, BUILTIN / "deploy-model" / "solution")

    candidate.get_by_role("link", name=re.compile("Submit my work")).click()
    candidate.get_by_role("button", name="Yes, submit now").click()
    expect(candidate.get_by_test_id("status-message")).to_contain_text(
        "received and graded", timeout=900_000
    )
    shot(candidate, "6-candidate-submitted")

    assessor.goto(f"{base_url}/runs")
    assessor.get_by_role("link", name=run.id).click()
    expect(assessor.get_by_test_id("score")).to_have_text(re.compile(r"\d+\.\d"))
    graded = float(assessor.get_by_test_id("score").inner_text())
    assert graded >= 90
    plots = assessor.locator("figure[data-plot] svg")
    assert plots.count() >= 2
    shot(assessor, "7-assessor-run")

    assessor.get_by_label("New score (0–100)").fill("75")
    assessor.get_by_label(re.compile("Reason")).fill("Verified the p95 claim by hand; cold start.")
    assessor.get_by_role("button", name="Override score").click()
    expect(assessor.get_by_test_id("score")).to_have_text("75.0")
    expect(assessor.get_by_text(f"overridden from {graded:.1f} by ada@acme.test")).to_be_visible()
    shot(assessor, "8-assessor-overridden")

    report = data_dir / "report.html"
    cli(data_dir, "report", run.id, "--out", str(report))
    html = report.read_text()
    assert "Verified the p95 claim by hand" in html and "<svg" in html and "<script" not in html
