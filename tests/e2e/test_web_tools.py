"""A run's MLflow in a real headless browser through `prodproven serve` (the server, browser
and helpers of test_web_browser.py, in a server of this module's own): a fix-drift candidate
starts, opens MLflow from the tools of their page, MLflow's own UI loads under
/candidate/tools/mlflow/ (its page, scripts, styles and ajax-api calls, none failing) and its
models page shows the model the challenge's setup registered; another candidate's browser is
refused on the same URL.

Screenshots are saved under test-artifacts/browser/.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, Request, Response, expect

from tests.e2e.test_web_browser import base_url as base_url
from tests.e2e.test_web_browser import browser as browser
from tests.e2e.test_web_browser import cli, shot
from tests.e2e.test_web_browser import data_dir as data_dir

pytestmark = [pytest.mark.docker, pytest.mark.e2e]

MLFLOW = "/candidate/tools/mlflow/"
MODEL = "churn-model"  # registered by challenges/fix-drift/setup/seed_mlflow.py
NO_AUTH = "/ajax-api/2.0/mlflow/users/current"
"""The UI asks who is signed in; without MLflow's auth app (ours runs none) that is a 404."""


def invited(base_url: str, data_dir: Path, browser: Browser, name: str) -> Page:
    """A candidate's page after they opened their fix-drift invitation."""
    email = f"{name}@x.test"
    made = cli(data_dir, "invite", "fix-drift", "--name", name, "--email", email, "--json")
    token = json.loads(made)["link"].rsplit("/i/", 1)[1]
    page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    page.goto(f"{base_url}/i/{token}")
    page.get_by_role("button", name="Open my invitation").click()
    expect(page.get_by_role("button", name="Start the challenge")).to_be_visible()
    return page


def test_a_candidate_opens_mlflow_through_the_app_and_nobody_else_can(
    base_url: str, data_dir: Path, browser: Browser
) -> None:
    candidate = invited(base_url, data_dir, browser, "finn")
    candidate.get_by_role("button", name="Start the challenge").click()
    expect(candidate.get_by_test_id("clock")).to_be_visible(timeout=900_000)

    failed: list[str] = []
    requested: list[str] = []
    with candidate.context.expect_page() as opened:
        candidate.get_by_role("link", name="mlflow", exact=True).click()
    mlflow = opened.value

    def on_failed(request: Request) -> None:
        failed.append(f"{request.method} {request.url}: {request.failure}")

    def on_response(response: Response) -> None:
        requested.append(response.url)
        if response.status >= 400 and not response.url.endswith(NO_AUTH):
            failed.append(f"{response.request.method} {response.url}: {response.status}")

    mlflow.on("requestfailed", on_failed)
    mlflow.on("response", on_response)
    mlflow.wait_for_load_state()
    assert mlflow.url.startswith(f"{base_url}{MLFLOW}"), mlflow.url
    expect(mlflow).to_have_title(re.compile("MLflow"), timeout=60_000)
    mlflow.goto(f"{base_url}{MLFLOW}#/models")
    expect(mlflow.get_by_role("link", name=MODEL)).to_be_visible(timeout=60_000)
    news = mlflow.get_by_role("dialog")  # MLflow's "new Model Registry UI" notice
    if news.count():
        mlflow.keyboard.press("Escape")
        expect(news).to_have_count(0)
    shot(mlflow, "tools-1-candidate-mlflow-models")
    mlflow.get_by_role("link", name=MODEL).click()
    expect(mlflow.get_by_text("Version 1").first).to_be_visible(timeout=60_000)
    mlflow.wait_for_timeout(3000)  # MLflow polls, so the network never goes idle
    shot(mlflow, "tools-2-candidate-mlflow-model")
    assert failed == [], failed
    assert any("/static-files/" in url for url in requested)
    assert any("/ajax-api/" in url for url in requested)
    elsewhere = [
        u for u in requested if not u.startswith((f"{base_url}{MLFLOW}", "data:", "blob:"))
    ]
    assert elsewhere == [], elsewhere  # every asset and API call went through the prefix

    other = invited(base_url, data_dir, browser, "gus")
    refused = other.goto(f"{base_url}{MLFLOW}#/models")
    assert refused is not None and refused.status == 409
    expect(other.get_by_text("start the challenge first")).to_be_visible()
    assert MODEL not in other.content()
    stranger = browser.new_context().new_page()
    answer = stranger.goto(f"{base_url}{MLFLOW}")
    assert answer is not None and answer.status == 401
    shot(other, "tools-3-other-candidate-refused")
