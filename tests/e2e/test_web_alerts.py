"""The on-call alert in a real headless browser, against `prodproven serve` started as a user
would (the server and browser of tests/e2e/test_web_browser.py): a candidate starts
incident-response from their page and opens JupyterLab; a fault is injected early (the
schedule's event is planned again a few seconds ahead, as the store is the supervisor's only
input); the red banner appears on both pages within 5 s of the prober's first unhealthy sample;
Acknowledge turns it amber, the acknowledgement is in the run's events and, once submitted and
graded, in the incident grader's evidence.

Screenshots are saved under test-artifacts/browser/.
"""

from __future__ import annotations

import json
import re
import time
from datetime import timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Locator, Page, expect

from prodproven.runner import plugins
from prodproven.runner.config import Settings
from prodproven.runner.runs.alerts import ACKNOWLEDGED, FIRED
from prodproven.runner.runs.lab import LAB_BASE_URL
from prodproven.runner.runs.prober import to_sample
from prodproven.runner.runs.schedule import Planned, incident_log
from prodproven.runner.runs.store import Run, Store, utcnow
from prodproven.runner.spec.challenge import load_challenge
from tests.conftest import BUILTIN
from tests.e2e.test_web_browser import base_url, browser, cli, data_dir, shot  # noqa: F401

# timing: it measures how soon the banner follows the prober's first unhealthy sample.
pytestmark = [pytest.mark.docker, pytest.mark.e2e, pytest.mark.timing]

FAULT = "schema-change"
"""The service restarts and then refuses every canary with 422: a sharp break."""
BANNER_WITHIN_S = 5.0


def banner(page: Page) -> Locator:
    """The pager's banner (in an open shadow root, which Playwright's locators pierce)."""
    return page.get_by_test_id("alert-banner")


def visible_at(pages: dict[str, Page], timeout: float) -> dict[str, float]:
    """When the banner first showed on each page (Unix time), checked every 0.1 s."""
    seen: dict[str, float] = {}
    deadline = time.monotonic() + timeout
    while len(seen) < len(pages):
        assert time.monotonic() < deadline, f"no banner on {sorted(set(pages) - set(seen))}"
        for name, page in pages.items():
            if name not in seen and banner(page).is_visible():
                seen[name] = time.time()
        time.sleep(0.1)
    return seen


def plan_early(store: Store, run: Run, in_s: float) -> None:
    """Plan the run's scheduled incident again, ``in_s`` from now with FAULT: the supervisor
    reads the plan from the log at every pass and fires the earliest due entry."""
    (planned,) = incident_log(store, run.id).planned()
    early = Planned(planned.event, FAULT, utcnow() + timedelta(seconds=in_s), planned.grace_s)
    store.add_event(run.id, "incident.planned", early.as_data())


def first_unhealthy_t(store: Store, run: Run, after: float) -> float:
    challenge = load_challenge(BUILTIN / "incident-response", plugins.catalog())
    assert challenge.spec.probe is not None
    slo = challenge.spec.probe.to_slo()
    samples = [to_sample(row) for row in store.samples(run.id)]
    return min(s.t for s in samples if s.t >= after and not s.healthy(slo))


def test_the_alert_pages_the_candidate_on_their_page_and_in_jupyterlab(
    base_url: str,  # noqa: F811
    browser: Browser,  # noqa: F811
    data_dir: Path,  # noqa: F811
) -> None:
    invited = json.loads(
        cli(
            data_dir,
            "invite",
            "incident-response",
            "--name",
            "Cleo Park",
            "--email",
            "cleo@example.com",
            "--json",
        )  # fmt: skip
    )
    link = base_url + "/i/" + invited["link"].rsplit("/i/", 1)[1]
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    candidate = context.new_page()
    candidate.goto(link)
    candidate.get_by_role("button", name="Open my invitation").click()
    candidate.get_by_role("button", name="Start the challenge").click()
    expect(candidate.get_by_test_id("clock")).to_be_visible(timeout=600_000)
    expect(banner(candidate)).to_be_hidden()

    lab = context.new_page()
    lab.goto(f"{base_url}{LAB_BASE_URL}lab")
    expect(lab.locator("#jupyterlab-splash")).to_have_count(0, timeout=120_000)
    expect(lab.get_by_test_id("alert-host")).to_have_count(1, timeout=30_000)
    expect(banner(lab)).to_be_hidden()

    store = Store(Settings.from_env(data_dir=data_dir).store_url)
    (run,) = store.list_runs()
    planned_at = time.time()
    plan_early(store, run, in_s=3)
    seen = visible_at({"candidate": candidate, "lab": lab}, timeout=90)
    [injected] = [e.data for e in store.events(run.id) if e.kind == "incident.injected"]
    assert injected["fault"] == FAULT and injected["at"] >= planned_at
    broke = first_unhealthy_t(store, run, after=injected["at"])
    [fired] = [e.data for e in store.events(run.id) if e.kind == FIRED]
    assert fired["at"] == pytest.approx(broke, abs=0.01)
    delays = {name: at - broke for name, at in seen.items()}
    print(f"banner after the first unhealthy sample: {delays['candidate']:.2f} s on the "
          f"candidate page, {delays['lab']:.2f} s in JupyterLab")  # fmt: skip
    assert max(delays.values()) <= BANNER_WITHIN_S, delays
    symptom = candidate.get_by_test_id("alert-symptom")
    expect(symptom).to_have_text(fired["symptom"])  # the restart's refusals, or the 422s
    assert fired["symptom"].startswith("canary requests to POST /predict fail")
    assert "schema" not in fired["symptom"] and "Canary saw: " in fired["symptom"]
    shot(candidate, "alert-1-candidate-paged")
    shot(lab, "alert-2-jupyterlab-paged")

    candidate.get_by_test_id("alert-ack").click()
    expect(banner(candidate)).to_have_attribute("data-state", "acknowledged")
    expect(candidate.get_by_test_id("alert-time")).to_contain_text("acknowledged at")
    expect(banner(lab)).to_have_attribute("data-state", "acknowledged", timeout=5_000)
    [acked] = [e.data for e in store.events(run.id) if e.kind == ACKNOWLEDGED]
    assert acked["id"] == fired["id"] and acked["by"] == "candidate:cleo@example.com"
    shot(candidate, "alert-3-candidate-acknowledged")
    lab.close()

    candidate.get_by_role("link", name=re.compile("Submit my work")).click()
    candidate.get_by_role("button", name="Yes, submit now").click()
    expect(candidate.get_by_test_id("status-message")).to_contain_text(
        "received and graded", timeout=900_000
    )
    expect(banner(candidate)).to_be_hidden()
    result = store.get(run.id).result
    assert result is not None
    [mitigation] = [g for g in result["graders"] if g["kind"] == "incident"]
    [incident] = mitigation["evidence"]["incidents"]
    assert incident["alert"] == fired["id"]
    assert incident["alerted_after_s"] == pytest.approx(broke - injected["at"], abs=0.01)
    assert incident["acknowledged_after_s"] == pytest.approx(acked["at"] - injected["at"], abs=0.01)
    assert "paged" in mitigation["summary"] and "acknowledged after" in mitigation["summary"]
