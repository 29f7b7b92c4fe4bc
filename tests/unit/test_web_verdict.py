"""Pages lead with the verdict: passed or not, each requirement with what was measured, the
score with its interval, then the breakdown (runner/verdict.py, templates/_verdict.html).

``fixtures/results/deploy-model-slo-missed.json`` is the graded deploy-model result with its
load grader's p95 set to 164 ms against the 100 ms SLO; its requirements, score, cap and
uncertainty were computed by the real functions (runner.requirements.evaluate,
runner.scoring.combine, runner.uncertainty.of_score). ``deploy-model.json`` was graded before
requirements existed.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from prodproven.runner.grading.result import RunResult
from prodproven.runner.hookspecs import Figure, Plot, hookimpl
from prodproven.runner.present import verdict
from tests.unit.fakes import FIXTURES
from tests.unit.pluginsupport import plugin_registered
from tests.unit.resultsupport import STATE
from tests.unit.test_web_pages import graded
from tests.unit.websupport import Web, make_web

MISSED_DETAIL = "p95 164 ms &gt; SLO 100 ms; errors 0.0% &lt;= 1.0%; 25.0 of 25 req/s"
GRADER_TABLE = '<table class="graders">'


@pytest.fixture
def web(tmp_path: Path) -> Web:
    return make_web(tmp_path)


def missed() -> dict[str, Any]:
    document: dict[str, Any] = json.loads((FIXTURES / "deploy-model-slo-missed.json").read_text())
    return document


def passed() -> dict[str, Any]:
    doc = missed()
    doc.update(passed=True, score=92.0, weighted_score=92.0, uncertainty=None)
    for r in doc["requirements"]:
        r["met"] = True
    return doc


def result(doc: dict[str, Any]) -> RunResult:
    return RunResult.model_validate(doc)


def graded_as(web: Web, doc: dict[str, Any], name: str = "Dana") -> str:
    run_id = graded(web, name)
    web.portal.records.store.update(run_id, result={**doc, "run_id": run_id}, score=doc["score"])
    return run_id


def test_the_run_page_leads_with_the_verdict_and_the_missed_requirement(web: Web) -> None:
    run_id = graded_as(web, missed())
    page = web.assessor().get(f"/runs/{run_id}").text
    table = page.index(GRADER_TABLE)
    assert page.index('data-testid="verdict"') < table
    assert "<strong>NOT PASSED</strong> · 1 requirement missed" in page
    assert page.index(MISSED_DETAIL) < table
    assert page.index("SLO met at 25 req/s") < page.index(MISSED_DETAIL)
    assert page.index("Graded score <strong>40.9 (90% interval 39.4–42.4)</strong>") < table
    assert "<small>Uncertainty from: within-run repeats of load, batch-load</small>" in page
    assert page.count('<li class="missed">') == 1 and page.count('<li class="met">') == 3


def test_the_report_leads_with_the_verdict_too(web: Web) -> None:
    run_id = graded_as(web, missed())
    html = web.assessor().get(f"/runs/{run_id}/report.html").text
    assert html.index("NOT PASSED") < html.index(MISSED_DETAIL) < html.index(GRADER_TABLE)


def test_a_passed_run_says_so_and_a_borderline_requirement_is_marked(web: Web) -> None:
    doc = passed()
    doc["requirements"][2]["borderline"] = True
    page = web.assessor().get(f"/runs/{graded_as(web, doc)}").text
    assert "<strong>PASSED</strong> · every requirement met" in page
    assert page.count('<li class="met">') == 4 and 'class="missed"' not in page
    assert page.index(">borderline</span>") < page.index(GRADER_TABLE)
    assert "Graded score <strong>92.0</strong>" in page  # no interval recorded: none shown


def test_a_result_from_before_requirements_is_verdict_unknown(web: Web) -> None:
    run_id = graded(web)  # the fake runner grades with the old deploy-model.json
    browser = web.assessor()
    page = browser.get(f"/runs/{run_id}").text
    assert page.index("verdict unknown — grade again") < page.index(GRADER_TABLE)
    assert f"prodproven grade {run_id}" in page
    assert "verdict unknown — grade again" in browser.get("/runs").text


def test_the_runs_list_and_compare_show_each_runs_verdict(web: Web) -> None:
    failed, good, old = (
        graded_as(web, missed(), "Dana"),
        graded_as(web, passed(), "Bea"),
        graded(web, "Cy"),
    )
    browser = web.assessor()
    for page in (browser.get("/runs").text, browser.get("/compare?challenge=deploy-model").text):
        assert "<th>Verdict</th>" in page
        for run_id, badge in (
            (failed, '<span class="verdict-badge not-passed" title="1 requirement missed">'
             "not passed</span>"),
            (good, '<span class="verdict-badge passed">passed</span>'),
            (old, '<span class="verdict-badge unknown">verdict unknown — grade again</span>'),
        ):  # fmt: skip
            row = page[page.index(f"<code>{run_id}</code>") :]
            assert row.index(badge) < row.index("</tr>")


def test_requirement_details_are_escaped(web: Web) -> None:
    doc = missed()
    doc["requirements"][2]["detail"] = "<script>alert(1)</script> p95 164 ms"
    page = web.assessor().get(f"/runs/{graded_as(web, doc)}").text
    assert "<script>alert(1)" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt; p95 164 ms" in page


def test_an_override_keeps_the_graded_verdict_and_says_so(web: Web) -> None:
    from prodproven.runner.portal.access import Actor

    run_id = graded_as(web, missed())
    web.portal.reviews.override(
        Actor("ada@acme.test", "acme"), run_id, 75, "Cold cache on the load test."
    )
    page = web.assessor().get(f"/runs/{run_id}").text
    assert "NOT PASSED" in page
    assert "overridden to 75.0 in review; requirements stay as graded" in page


# the verdict itself ------------------------------------------------------------------------------
def test_the_verdict_of_each_kind_of_document() -> None:
    assert verdict.of(None).state == verdict.UNGRADED
    running = RunResult.model_validate({**STATE, "status": "running", "score": None})
    assert verdict.of(running).label == "not graded"
    old = verdict.of(result(json.loads((FIXTURES / "deploy-model.json").read_text())))
    assert old.state == verdict.UNKNOWN and old.label == "verdict unknown — grade again"
    failed = verdict.of(result(missed()))
    assert failed.label == "NOT PASSED" and failed.reason == "1 requirement missed"
    assert [r.name for r in failed.missed] == ["SLO met at 25 req/s"]
    assert failed.score_text == "40.9 (90% interval 39.4–42.4)"
    assert verdict.of(result(passed())).reason == "every requirement met"


def test_a_run_below_the_pass_line_with_every_requirement_met() -> None:
    doc = copy.deepcopy(passed())
    doc.update(passed=False, score=61.0)
    found = verdict.of(result(doc))
    assert found.state == verdict.NOT_PASSED
    assert found.reason == "score below the pass line 70"


class BrokenLoadPlot:
    """A plugin whose plot of load graders has a bug."""

    @staticmethod
    def draw(name: str, evidence: dict[str, Any]) -> list[Figure]:
        raise KeyError("p99_ms")

    @hookimpl
    def register_plots(self) -> list[Plot]:
        return [Plot("load", self.draw)]


def test_a_plot_that_fails_shows_its_grader_and_error_on_the_run_page(web: Web) -> None:
    run_id = graded_as(web, missed())
    with plugin_registered(BrokenLoadPlot()):
        page = web.assessor().get(f"/runs/{run_id}").text
    error = "the plot of grader batch-load failed: KeyError: &#39;p99_ms&#39;"
    assert f'<p class="error" role="alert" data-testid="plot-error">{error}</p>' in page
    assert 'data-plot="batch-load-latency"' in page  # the built-in plots are still drawn
