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
from prodproven.runner.present.plots import (
    Bars,
    Rule,
    Series,
    bar_chart,
    line_chart,
    nice_ticks,
    run_plots,
)

RESULTS = Path(__file__).parent / "fixtures" / "results"
SVG = "{http://www.w3.org/2000/svg}"


def fixture(name: str) -> dict[str, Any]:
    return json.loads((RESULTS / f"{name}.json").read_text())


def plot_svg(result: dict[str, Any], plot_id: str) -> ET.Element:
    svg = {p.id: p.svg for p in run_plots(result)}[plot_id]
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
                "load-latency",
                "load-rate",
                "load-errors",
                "batch-load-latency",
                "batch-load-rate",
                "batch-load-errors",
            ],
        ),
        ("fix-drift", ["retrained-model-claimed"]),
        ("fix-drift-starter", ["retrained-model-claimed"]),
        ("incident-response", ["mitigation-1-timeline"]),
        ("incident-response-do-nothing", ["mitigation-1-timeline"]),
        ("incident-response-latency-regression", ["mitigation-1-timeline"]),
    ],
)
def test_each_fixture_yields_its_expected_plot_ids_in_grader_order(name: str, ids: list[str]):
    assert [p.id for p in run_plots(fixture(name))] == ids


@pytest.mark.parametrize("name", sorted(p.stem for p in RESULTS.glob("*.json")))
def test_every_plot_is_well_formed_svg_with_role_img_and_its_title(name: str):
    for plot in run_plots(fixture(name)):
        root = ET.fromstring(plot.svg)
        assert root.tag == f"{SVG}svg" and root.get("role") == "img"
        assert root[0].tag == f"{SVG}title" and root[0].text == plot.title
        assert plot.grader and plot.caption and plot.title


def test_no_plot_loads_scripts_or_external_resources():
    for name in sorted(p.stem for p in RESULTS.glob("*.json")):
        for plot in run_plots(fixture(name)):
            root = ET.fromstring(plot.svg)
            assert not [e for e in root.iter() if e.tag in (f"{SVG}script", f"{SVG}image")]
            assert "href" not in plot.svg and "<script" not in plot.svg


def test_incident_timeline_marks_injection_and_mitigation_at_their_seconds():
    result = fixture("incident-response")
    incident = result["graders"][0]["evidence"]["incidents"][0]
    root = plot_svg(result, "mitigation-1-timeline")
    x = axis(root, x=True)
    assert marker_x(root, "injected") == pytest.approx(at(x, 0.0), abs=0.1)
    assert marker_x(root, "broke") == pytest.approx(at(x, incident["broke_after_s"]), abs=0.1)
    mitigated = marker_x(root, "mitigated")
    assert mitigated == pytest.approx(at(x, incident["time_to_mitigate_s"]), abs=0.1)


def test_incident_caption_states_the_time_to_mitigate():
    (plot,) = run_plots(fixture("incident-response"))
    assert plot.caption.startswith("mitigated 5 s after the injection")


def test_never_mitigated_incident_has_no_mitigated_marker():
    (plot,) = run_plots(fixture("incident-response-do-nothing"))
    root = ET.fromstring(plot.svg)
    assert marker_x(root, "mitigated") is None
    assert marker_x(root, "injected") is not None and marker_x(root, "broke") is not None
    assert plot.caption.startswith("never mitigated")
    assert plot.caption.endswith("still unhealthy at the end of the run")


def test_unhealthy_window_is_shaded_from_its_start_to_its_end():
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


def test_probes_without_an_answer_are_drawn_apart_from_slow_answers():
    root = plot_svg(fixture("incident-response-latency-regression"), "mitigation-1-timeline")
    legend = {t.text for t in texts(root)}
    assert {"probe latency", "unhealthy answer", "no answer", "unhealthy window"} <= legend


def test_incident_slo_line_sits_at_the_slo_latency():
    root = plot_svg(fixture("incident-response"), "mitigation-1-timeline")
    assert dashed_ys(root) == [pytest.approx(at(axis(root, x=False), 250.0), abs=0.1)]


def test_load_latency_slo_line_sits_at_the_slo_p95():
    root = plot_svg(fixture("deploy-model"), "load-latency")
    assert dashed_ys(root) == [pytest.approx(at(axis(root, x=False), 100.0), abs=0.1)]


def test_load_latency_plots_p50_p95_p99_per_second_with_a_legend():
    result = fixture("deploy-model")
    root = plot_svg(result, "load-latency")
    lines = list(root.iter(f"{SVG}polyline"))
    assert len(lines) == 3
    seconds = len(result["graders"][2]["evidence"]["series"])
    assert all(len((ln.get("points") or "").split()) == seconds for ln in lines)
    assert {"p50", "p95", "p99"} <= {t.text for t in texts(root)}


def test_load_captions_say_how_latency_throughput_and_errors_compare_to_the_slo():
    captions = {p.id: p.caption for p in run_plots(fixture("deploy-model"))}
    assert captions["load-latency"] == (
        "graded p95 25.1 ms (median of the windows) is under the 100 ms SLO"
    )
    assert captions["load-rate"] == "24.96 req/s measured against a target of 25 req/s"
    assert captions["load-errors"] == "no measured request failed"


def test_error_rate_is_the_percentage_of_that_seconds_requests():
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
    caption = {p.id: p.caption for p in run_plots(result)}["load-errors"]
    assert caption == "17.5% of the measured requests failed"


def test_claimed_vs_measured_shows_each_auc_as_a_labelled_bar_under_the_target():
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


def test_a_claim_the_measurement_does_not_reproduce_is_said_in_the_caption():
    result = fixture("fix-drift")
    result["graders"][0]["evidence"].update(claimed_auc=0.95, honest=False)
    (plot,) = [p for p in run_plots(result) if p.id == "retrained-model-claimed"]
    assert plot.caption == "the claimed AUC 0.950 is not reproduced: 0.807 measured"


def test_candidate_controlled_text_is_escaped():
    evil = '<script>alert("x")</script>'
    result = fixture("incident-response")
    incident = result["graders"][0]["evidence"]["incidents"][0]
    incident["fault"] = evil
    incident["timeline"][1]["problem"] = evil
    drift = fixture("fix-drift")
    drift["graders"][0]["evidence"]["model"] = evil
    for plot in run_plots(result) + run_plots(drift):
        assert "<script" not in plot.svg and "&lt;script&gt;" in plot.svg
        root = ET.fromstring(plot.svg)  # still well-formed
        assert evil in (root[0].text or "")


@pytest.mark.parametrize(
    "result",
    [
        {},
        {"graders": []},
        {"graders": "nope"},
        {"graders": [None, 3, "x"]},
        {"graders": [{"kind": "pytest", "name": "robustness", "evidence": {"passed": 1}}]},
        {"graders": [{"kind": "no-such-kind", "name": "x", "evidence": {"series": []}}]},
        {"graders": [{"kind": "load", "name": "load", "evidence": None}]},
        {"graders": [{"kind": "load", "name": "load", "evidence": {}}]},
        {"graders": [{"kind": "load", "name": "load", "evidence": {"series": "x"}}]},
        {"graders": [{"kind": "load", "name": "load", "evidence": {"series": [{"t": None}]}}]},
        {"graders": [{"kind": "incident", "name": "m", "evidence": {"incidents": [1, None]}}]},
        {"graders": [{"kind": "incident", "name": "m", "evidence": {"incidents": [{}]}}]},
        {"graders": [{"kind": "incident", "name": "m", "evidence": {"series": [[1, 2, 3, 4]]}}]},
        {"graders": [{"kind": "mlflow_model", "name": "r", "evidence": {"claimed_auc": 0.9}}]},
        {"graders": [{"kind": "mlflow_model", "name": "r", "evidence": {"measured_auc": "hi"}}]},
    ],
)
def test_empty_unknown_or_partial_evidence_gives_no_plot(result: dict[str, Any]):
    assert run_plots(result) == []


def test_an_incident_without_a_timeline_or_slo_still_plots_its_latency():
    result = fixture("incident-response")
    evidence = result["graders"][0]["evidence"]
    del evidence["slo"], evidence["incidents"][0]["timeline"]
    root = plot_svg(result, "mitigation-1-timeline")
    assert dashed_ys(root) == [] and next(root.iter(f"{SVG}polyline"), None) is not None


def test_evidence_of_the_wrong_shape_costs_only_its_own_plot():
    result = fixture("deploy-model")
    result["graders"][2]["evidence"]["series"] = [{"t": 0, "requests": {"oops": 1}}, "x"]
    ids = [p.id for p in run_plots(result)]
    assert ids[-3:] == ["batch-load-latency", "batch-load-rate", "batch-load-errors"]


def test_same_document_gives_identical_svg():
    result = fixture("incident-response-latency-regression")
    first = run_plots(result)
    assert run_plots(copy.deepcopy(result)) == first


def test_line_chart_breaks_the_line_where_a_value_is_missing():
    svg = line_chart(
        "t",
        [Series("a", [(0, 1.0), (1, 2.0), (2, None), (3, 1.0), (4, 3.0)])],
        x_label="s",
        y_label="v",
    )
    assert len(list(ET.fromstring(svg).iter(f"{SVG}polyline"))) == 2


def test_a_single_series_chart_has_no_legend_and_several_have_one():
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


def test_bar_chart_leaves_out_missing_values_and_draws_reference_lines():
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
def test_nice_ticks_are_round_numbers_covering_the_range(low, high, ticks):
    assert nice_ticks(low, high) == ticks


def test_a_long_lead_up_to_the_injection_is_cut_to_a_quarter_of_what_follows():
    evidence = {
        "slo": {"latency_ms": 250.0},
        "series": [[1000.0 + t, 5.0, 200, True] for t in range(0, 1201)],
        "incidents": [{"injected_at": 1800.0, "broke_after_s": None, "time_to_mitigate_s": 0.0}],
    }
    result = {"graders": [{"kind": "incident", "name": "mitigation", "evidence": evidence}]}
    root = plot_svg(result, "mitigation-1-timeline")
    (line,) = root.iter(f"{SVG}polyline")
    first_x = float((line.get("points") or "").split()[0].split(",")[0])
    assert first_x == pytest.approx(at(axis(root, x=True), -100.0), abs=0.1)
