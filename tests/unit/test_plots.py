"""SVG plots from a run's result document (runner/plots.py).

The fixtures in fixtures/results/ are real result documents: deploy-model and fix-drift
(reference and starter) from graded runs in the store, and incident-response runs of the
reference responder (bad-model-rollout and latency-regression faults) and of the do-nothing
workspace. Positions are checked against the chart's own tick labels, so the tests read the
SVG as a reader would: where does 0 s sit on the x axis, where does 250 ms sit on the y axis.
"""

from __future__ import annotations

import copy
import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from prodproven.runner import plugins
from prodproven.runner.grading.result import RunResult
from prodproven.runner.hookspecs import Figure, Plot
from prodproven.runner.present.plots import (
    Bars,
    Rule,
    Series,
    bar_chart,
    figure,
    line_chart,
    nice_ticks,
    run_plots,
)
from tests.unit.resultsupport import grader_entry, result_doc

RESULTS = Path(__file__).parent / "fixtures" / "results"
INCIDENT_IDS = ["mitigation-1-timeline", "postmortem-parts", "service-health-answers"]
SVG = "{http://www.w3.org/2000/svg}"


def fixture(name: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads((RESULTS / f"{name}.json").read_text())
    return document


def figures(result: dict[str, Any]) -> list[Figure]:
    """The run page's figures of a stored result document, drawn by the registered plots."""
    return run_plots(RunResult.model_validate(result), plugins.plots())


def figure_of(result: dict[str, Any], plot_id: str) -> Figure:
    return {p.id: p for p in figures(result)}[plot_id]


def plot_svg(result: dict[str, Any], plot_id: str) -> ET.Element:
    svg = {p.id: p.svg for p in figures(result)}[plot_id]
    return ET.fromstring(svg)


def texts(root: ET.Element) -> list[ET.Element]:
    return list(root.iter(f"{SVG}text"))


def is_number(text: str | None) -> bool:
    try:
        float(text or "")
    except ValueError:
        return False
    return True


def axis(root: ET.Element, *, x: bool) -> tuple[float, float]:
    """(offset, slope) mapping a data value to pixels, read from two tick labels. x ticks are
    centred under the axis; y ticks are right-aligned and sit 4 px below their value."""
    anchor = "middle" if x else "end"
    ticks = [
        (float(t.text or ""), float(t.get("x" if x else "y", "")) - (0 if x else 4))
        for t in texts(root)
        if t.get("text-anchor") == anchor and is_number(t.text)
    ]
    (v0, p0), (v1, p1) = ticks[0], ticks[-1]
    slope = (p1 - p0) / (v1 - v0)
    return p0 - v0 * slope, slope


def at(scale: tuple[float, float], value: float) -> float:
    return scale[0] + scale[1] * value


def marker_x(root: ET.Element, label: str) -> float | None:
    """x of the vertical line whose label is ``label`` (labels sit 3 px beside their line)."""
    found = [t for t in texts(root) if t.text == label]
    if not found:
        return None
    label_x = float(found[0].get("x", ""))
    lines = [
        float(ln.get("x1", "")) for ln in root.iter(f"{SVG}line") if ln.get("x1") == ln.get("x2")
    ]
    return min(lines, key=lambda x: abs(abs(x - label_x) - 3))


def dashed_ys(root: ET.Element) -> list[float]:
    return [float(ln.get("y1", "")) for ln in root.iter(f"{SVG}line") if ln.get("stroke-dasharray")]


@pytest.mark.parametrize(
    ("name", "ids"),
    [
        (
            "deploy-model",
            [
                "correctness-answers",
                "robustness-tests",
                "load-latency",
                "load-rate",
                "load-errors",
                "batch-load-latency",
                "batch-load-rate",
                "batch-load-errors",
            ],
        ),
        ("fix-drift", ["retrained-model-claimed", "drift-notebook-expectations"]),
        ("fix-drift-starter", ["retrained-model-claimed", "drift-notebook-expectations"]),
        ("incident-response", INCIDENT_IDS),
        ("incident-response-do-nothing", ["mitigation-1-timeline", "service-health-answers"]),
        ("incident-response-latency-regression", INCIDENT_IDS),
    ],
)
def test_each_fixture_yields_its_expected_plot_ids_in_grader_order(
    name: str, ids: list[str]
) -> None:
    assert [p.id for p in figures(fixture(name))] == ids


@pytest.mark.parametrize("name", sorted(p.stem for p in RESULTS.glob("*.json")))
def test_every_plot_is_well_formed_svg_with_role_img_and_its_title(name: str) -> None:
    for plot in figures(fixture(name)):
        root = ET.fromstring(plot.svg)
        assert root.tag == f"{SVG}svg" and root.get("role") == "img"
        assert root[0].tag == f"{SVG}title" and root[0].text == plot.title
        assert plot.grader and plot.caption and plot.title


def test_no_plot_loads_scripts_or_external_resources() -> None:
    for name in sorted(p.stem for p in RESULTS.glob("*.json")):
        for plot in figures(fixture(name)):
            root = ET.fromstring(plot.svg)
            assert not [e for e in root.iter() if e.tag in (f"{SVG}script", f"{SVG}image")]
            assert "href" not in plot.svg and "<script" not in plot.svg


def test_incident_timeline_marks_injection_and_mitigation_at_their_seconds() -> None:
    result = fixture("incident-response")
    incident = result["graders"][0]["evidence"]["incidents"][0]
    root = plot_svg(result, "mitigation-1-timeline")
    x = axis(root, x=True)
    assert marker_x(root, "injected") == pytest.approx(at(x, 0.0), abs=0.1)
    assert marker_x(root, "broke") == pytest.approx(at(x, incident["broke_after_s"]), abs=0.1)
    mitigated = marker_x(root, "mitigated")
    assert mitigated == pytest.approx(at(x, incident["time_to_mitigate_s"]), abs=0.1)


def test_incident_timeline_marks_when_the_alert_paged_and_was_acknowledged() -> None:
    result = copy.deepcopy(fixture("incident-response"))
    incident = result["graders"][0]["evidence"]["incidents"][0]
    incident.update(alerted_after_s=1.0, acknowledged_after_s=3.0)
    plot = figure_of(result, "mitigation-1-timeline")
    root = ET.fromstring(plot.svg)
    x = axis(root, x=True)
    assert marker_x(root, "paged") == pytest.approx(at(x, 1.0), abs=0.1)
    assert marker_x(root, "acknowledged") == pytest.approx(at(x, 3.0), abs=0.1)
    assert plot.caption.endswith("; the alert paged after 1 s, acknowledged after 3 s")


def test_an_incident_from_before_the_alert_has_no_alert_markers() -> None:
    plot = figure_of(fixture("incident-response"), "mitigation-1-timeline")
    root = ET.fromstring(plot.svg)
    assert marker_x(root, "paged") is None and marker_x(root, "acknowledged") is None
    assert "alert" not in plot.caption


def test_incident_caption_states_the_time_to_mitigate() -> None:
    plot = figure_of(fixture("incident-response"), "mitigation-1-timeline")
    assert plot.caption.startswith("mitigated 5 s after the injection")


def test_never_mitigated_incident_has_no_mitigated_marker() -> None:
    plot = figure_of(fixture("incident-response-do-nothing"), "mitigation-1-timeline")
    root = ET.fromstring(plot.svg)
    assert marker_x(root, "mitigated") is None
    assert marker_x(root, "injected") is not None and marker_x(root, "broke") is not None
    assert plot.caption.startswith("never mitigated")
    assert plot.caption.endswith("still unhealthy at the end of the run")


def test_unhealthy_window_is_shaded_from_its_start_to_its_end() -> None:
    result = fixture("incident-response")
    window = [w for w in result["graders"][0]["evidence"]["incidents"][0]["timeline"]][1]
    assert window["healthy"] is False
    root = plot_svg(result, "mitigation-1-timeline")
    x = axis(root, x=True)
    (band,) = [r for r in root.iter(f"{SVG}rect") if r.get("fill-opacity") == "0.15"]
    left, width = float(band.get("x", "")), float(band.get("width", ""))
    assert left == pytest.approx(at(x, window["start_s"]), abs=0.1)
    assert left + width == pytest.approx(at(x, window["end_s"]), abs=0.2)
    assert "Connection refused" in (band.findtext(f"{SVG}title") or "")


def test_probes_without_an_answer_are_drawn_apart_from_slow_answers() -> None:
    root = plot_svg(fixture("incident-response-latency-regression"), "mitigation-1-timeline")
    legend = {t.text for t in texts(root)}
    assert {"probe latency", "unhealthy answer", "no answer", "unhealthy window"} <= legend


def test_incident_slo_line_sits_at_the_slo_latency() -> None:
    root = plot_svg(fixture("incident-response"), "mitigation-1-timeline")
    assert dashed_ys(root) == [pytest.approx(at(axis(root, x=False), 250.0), abs=0.1)]


def test_load_latency_slo_line_sits_at_the_slo_p95() -> None:
    root = plot_svg(fixture("deploy-model"), "load-latency")
    assert dashed_ys(root) == [pytest.approx(at(axis(root, x=False), 100.0), abs=0.1)]


def test_load_latency_plots_p50_p95_p99_per_second_with_a_legend() -> None:
    result = fixture("deploy-model")
    root = plot_svg(result, "load-latency")
    lines = list(root.iter(f"{SVG}polyline"))
    assert len(lines) == 3
    seconds = len(result["graders"][2]["evidence"]["series"])
    assert all(len((ln.get("points") or "").split()) == seconds for ln in lines)
    assert {"p50", "p95", "p99"} <= {t.text for t in texts(root)}


def test_load_captions_say_how_latency_throughput_and_errors_compare_to_the_slo() -> None:
    captions = {p.id: p.caption for p in figures(fixture("deploy-model"))}
    assert captions["load-latency"] == (
        "graded p95 25.1 ms (median of the windows) is under the 100 ms SLO"
    )
    assert captions["load-rate"] == "24.96 req/s measured against a target of 25 req/s"
    assert captions["load-errors"] == "no measured request failed"


def test_error_rate_is_the_percentage_of_that_seconds_requests() -> None:
    result = fixture("deploy-model")
    evidence = result["graders"][2]["evidence"]
    evidence["series"] = [
        {"t": 0, "requests": 10, "errors": 0},
        {"t": 1, "requests": 10, "errors": 5},
        {"t": 2, "requests": 20, "errors": 2},
    ]
    evidence["error_rate"] = 0.175
    root = plot_svg(result, "load-errors")
    y = axis(root, x=False)
    (line,) = root.iter(f"{SVG}polyline")
    ys = [float(p.split(",")[1]) for p in (line.get("points") or "").split()]
    assert ys == [pytest.approx(at(y, v), abs=0.1) for v in (0.0, 50.0, 10.0)]
    caption = {p.id: p.caption for p in figures(result)}["load-errors"]
    assert caption == "17.5% of the measured requests failed"


def test_claimed_vs_measured_shows_each_auc_as_a_labelled_bar_under_the_target() -> None:
    root = plot_svg(fixture("fix-drift"), "retrained-model-claimed")
    labels = {t.text for t in texts(root)}
    assert {"0.826", "0.807", "0.682", "0.728", "target AUC 0.79"} <= labels
    bars = [
        r.findtext(f"{SVG}title")
        for r in root.iter(f"{SVG}rect")
        if r.find(f"{SVG}title") is not None
    ]
    assert bars == [
        "claimed: 0.826",
        "measured on hidden data: 0.807",
        "old champion: 0.682",
        "measured on hidden data: 0.728",
    ]
    assert dashed_ys(root) == [pytest.approx(at(axis(root, x=False), 0.79), abs=0.1)]


def test_a_claim_the_measurement_does_not_reproduce_is_said_in_the_caption() -> None:
    result = fixture("fix-drift")
    result["graders"][0]["evidence"].update(claimed_auc=0.95, honest=False)
    (plot,) = [p for p in figures(result) if p.id == "retrained-model-claimed"]
    assert plot.caption == "the claimed AUC 0.950 is not reproduced: 0.807 measured"


def test_candidate_controlled_text_is_escaped() -> None:
    evil = '<script>alert("x")</script>'
    result = fixture("incident-response")
    incident = result["graders"][0]["evidence"]["incidents"][0]
    incident["fault"] = evil
    incident["timeline"][1]["problem"] = evil
    drift = fixture("fix-drift")
    drift["graders"][0]["evidence"]["model"] = evil
    drawn = [
        figure_of(result, "mitigation-1-timeline"),
        figure_of(drift, "retrained-model-claimed"),
    ]
    for plot in drawn:
        assert "<script" not in plot.svg and "&lt;script&gt;" in plot.svg
        root = ET.fromstring(plot.svg)  # still well-formed
        assert evil in (root[0].text or "")


@pytest.mark.parametrize(
    "result",
    [
        result_doc(),
        result_doc(grader_entry("robustness", kind="pytest", evidence={"passed": 1})),
        result_doc(grader_entry("x", kind="no-such-kind", evidence={"series": []})),
        result_doc(grader_entry("load", kind="load", evidence={})),
        result_doc(grader_entry("load", kind="load", evidence={"series": "x"})),
        result_doc(grader_entry("load", kind="load", evidence={"series": [{"t": None}]})),
        result_doc(grader_entry("m", kind="incident", evidence={"incidents": [1, None]})),
        result_doc(grader_entry("m", kind="incident", evidence={"incidents": [{}]})),
        result_doc(grader_entry("m", kind="incident", evidence={"series": [[1, 2, 3, 4]]})),
        result_doc(grader_entry("r", kind="mlflow_model", evidence={"claimed_auc": 0.9})),
        result_doc(grader_entry("r", kind="mlflow_model", evidence={"measured_auc": "hi"})),
        result_doc(grader_entry("correctness", evidence={"matched": 3, "total": 0})),
        result_doc(grader_entry("notebook", evidence={"expectations": [{"tag": "drift"}]})),
        result_doc(grader_entry("postmortem", evidence={"parts": {"timeline": "x"}})),
    ],
)
def test_empty_unknown_or_partial_evidence_gives_no_plot(result: dict[str, Any]) -> None:
    assert figures(result) == []


def test_an_incident_without_a_timeline_or_slo_still_plots_its_latency() -> None:
    result = fixture("incident-response")
    evidence = result["graders"][0]["evidence"]
    del evidence["slo"], evidence["incidents"][0]["timeline"]
    root = plot_svg(result, "mitigation-1-timeline")
    assert dashed_ys(root) == [] and next(root.iter(f"{SVG}polyline"), None) is not None


def test_evidence_of_the_wrong_shape_costs_only_its_own_plot() -> None:
    result = fixture("deploy-model")
    result["graders"][2]["evidence"]["series"] = [{"t": 0, "requests": {"oops": 1}}, "x"]
    ids = [p.id for p in figures(result)]
    assert ids[-3:] == ["batch-load-latency", "batch-load-rate", "batch-load-errors"]


def test_same_document_gives_identical_svg() -> None:
    result = fixture("incident-response-latency-regression")
    first = figures(result)
    assert figures(copy.deepcopy(result)) == first


def test_line_chart_breaks_the_line_where_a_value_is_missing() -> None:
    svg = line_chart(
        "t",
        [Series("a", [(0, 1.0), (1, 2.0), (2, None), (3, 1.0), (4, 3.0)])],
        x_label="s",
        y_label="v",
    )
    assert len(list(ET.fromstring(svg).iter(f"{SVG}polyline"))) == 2


def test_a_single_series_chart_has_no_legend_and_several_have_one() -> None:
    one = ET.fromstring(
        line_chart("t", [Series("alpha", [(0, 1.0), (1, 2.0)])], x_label="s", y_label="v")
    )
    two = ET.fromstring(
        line_chart(
            "t",
            [Series("alpha", [(0, 1.0), (1, 2.0)]), Series("beta", [(0, 2.0), (1, 1.0)])],
            x_label="s",
            y_label="v",
        )
    )
    assert "alpha" not in {t.text for t in texts(one)}
    assert {"alpha", "beta"} <= {t.text for t in texts(two)}


def test_bar_chart_leaves_out_missing_values_and_draws_reference_lines() -> None:
    svg = bar_chart(
        "t",
        ["a", "b"],
        [Bars("x", [1.0, None]), Bars("y", [2.0, 3.0])],
        y_label="v",
        refs=[Rule(2.5, "goal")],
    )
    root = ET.fromstring(svg)
    assert len([r for r in root.iter(f"{SVG}rect") if r.find(f"{SVG}title") is not None]) == 3
    assert dashed_ys(root) == [pytest.approx(at(axis(root, x=False), 2.5), abs=0.1)]


@pytest.mark.parametrize(
    ("low", "high", "ticks"),
    [
        (0, 2001.45, [0, 500, 1000, 1500, 2000, 2500]),
        (0, 100, [0, 25, 50, 75, 100]),
        (0, 1.0, [0, 0.25, 0.5, 0.75, 1.0]),
        (0, 0, [0, 0.25, 0.5, 0.75, 1.0]),
        (-19.97, 76.03, [-25, 0, 25, 50, 75, 100]),
    ],
)
def test_nice_ticks_are_round_numbers_covering_the_range(
    low: float, high: float, ticks: list[float]
) -> None:
    assert nice_ticks(low, high) == ticks


def test_a_long_lead_up_to_the_injection_is_cut_to_a_quarter_of_what_follows() -> None:
    evidence = {
        "slo": {"latency_ms": 250.0},
        "series": [[1000.0 + t, 5.0, 200, True] for t in range(0, 1201)],
        "incidents": [{"injected_at": 1800.0, "broke_after_s": None, "time_to_mitigate_s": 0.0}],
    }
    result = result_doc(grader_entry("mitigation", kind="incident", evidence=evidence))
    root = plot_svg(result, "mitigation-1-timeline")
    (line,) = root.iter(f"{SVG}polyline")
    first_x = float((line.get("points") or "").split()[0].split(",")[0])
    assert first_x == pytest.approx(at(axis(root, x=True), -100.0), abs=0.1)


class Fragile:
    """A plot with a bug: it indexes evidence the grader did not record."""

    @staticmethod
    def draw(name: str, evidence: dict[str, Any]) -> list[Figure]:
        return [figure(name, "p99", "p99", str(evidence["p99_ms"]), "")]


def test_a_plot_that_raises_is_shown_as_an_error_naming_its_grader_and_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    result = RunResult.model_validate(fixture("fix-drift"))
    drawn = run_plots(result, [Plot("mlflow_model", Fragile.draw), *plugins.plots()])
    failed = drawn[0]
    assert failed.id == "retrained-model-failed" and failed.svg == ""
    assert failed.error == "the plot of grader retrained-model failed: KeyError: 'p99_ms'"
    assert [p.id for p in drawn[1:]] == ["retrained-model-claimed", "drift-notebook-expectations"]
    assert "the plot of grader retrained-model (mlflow_model) failed" in caplog.text


def test_correctness_shows_the_share_answered_beside_one_constant_answers() -> None:
    plot = figure_of(fixture("deploy-model"), "correctness-answers")
    evidence = fixture("deploy-model")["graders"][0]["evidence"]
    matched, total = evidence["matched"], evidence["total"]
    assert plot.caption.startswith(f"{matched} of {total} hidden inputs answered correctly")
    labels = {t.text for t in texts(ET.fromstring(plot.svg))}
    assert f"{100 * evidence['match_fraction']:.1f}%" in labels


def test_pytest_counts_passed_and_failed_hidden_tests_and_names_the_failing() -> None:
    evidence = {
        "passed": 3,
        "total": 5,
        "failing": [{"test": "t.py::test_a"}, {"test": "t.py::test_b"}],
    }
    result = result_doc(grader_entry("robustness", kind="pytest", evidence=evidence))
    plot = figure_of(result, "robustness-tests")
    assert plot.caption == "3 of 5 hidden tests passed; failing: test_a, test_b"
    assert {"3", "2"} <= {t.text for t in texts(ET.fromstring(plot.svg))}


def test_notebook_scores_each_expected_answer_after_re_execution() -> None:
    evidence = {
        "expectations": [{"tag": "drifted", "score": 1.0}, {"tag": "psi", "score": 0.5}],
        "executed_ok": 0.75,
    }
    result = result_doc(grader_entry("analysis", kind="notebook", evidence=evidence))
    plot = figure_of(result, "analysis-expectations")
    assert plot.caption == (
        "1 of 2 expected answers reproduced on re-execution; 75% of code cells ran cleanly"
    )
    labels = {t.text for t in texts(ET.fromstring(plot.svg))}
    assert {"drifted", "psi", "cells ran cleanly", "0.50", "0.75"} <= labels


def test_postmortem_shows_each_part_against_its_weight_and_names_the_weakest() -> None:
    result = fixture("incident-response")
    evidence = result["graders"][1]["evidence"]
    evidence["parts"]["root_cause"] = 0.0
    plot = figure_of(result, "postmortem-parts")
    observed = evidence["observed"]["root_cause"]
    assert (
        plot.caption == f"weakest part: root cause (0.00); the observed root cause was {observed}"
    )
    assert {"score", "weight"} <= {t.text for t in texts(ET.fromstring(plot.svg))}
