"""The capacity grader's figures, drawn from evidence the grader produced for a synthetic
launch: latency and rate by phase, CPU and memory per replica against their limits."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

from prodproven.runner import plugins
from prodproven.runner.grading.result import RunResult
from prodproven.runner.hookspecs import Figure
from prodproven.runner.present.plots import run_plots
from tests.unit.evaluationsupport import replica
from tests.unit.resultsupport import grader_entry, result_doc
from tests.unit.test_capacity import run, score, track

SVG = "{http://www.w3.org/2000/svg}"


def evidence(oom_kills: int = 0) -> dict[str, Any]:
    usage = track(
        (0, [replica("service-1", 0), replica("service-2", 0)]),
        (20, [replica("service-1", 4.0), replica("service-2", 5.0)]),
        (42, [replica("service-1", 8.4), replica("service-2", 10.5, oom_kills=oom_kills)]),
    )
    return score(run(lambda name, i: 40.0), track=usage).evidence


def figures(ev: dict[str, Any]) -> dict[str, Figure]:
    doc = result_doc(grader_entry("capacity", evidence=ev))
    return {f.id: f for f in run_plots(RunResult.model_validate(doc), plugins.plots())}


def texts(svg: str) -> list[str]:
    return [t.text or "" for t in ET.fromstring(svg).iter(f"{SVG}text")]


def test_capacity_draws_latency_rate_cpu_and_memory() -> None:
    found = figures(evidence())
    assert list(found) == ["capacity-latency", "capacity-rate", "capacity-cpu", "capacity-memory"]
    for plot in found.values():
        root = ET.fromstring(plot.svg)
        assert root.get("role") == "img" and root[0].text == plot.title


def test_the_latency_figure_marks_each_phase_and_the_slo() -> None:
    latency = figures(evidence())["capacity-latency"]
    labels = texts(latency.svg)
    assert {"baseline", "peak", "spike"} <= set(labels) and "SLO p95 200 ms" in labels
    assert latency.caption.startswith("p95 at peak 40 ms against the 200 ms SLO")


def test_cpu_is_drawn_per_replica_against_its_limit_with_utilisation_in_the_caption() -> None:
    cpu = figures(evidence())["capacity-cpu"]
    assert {"service-1", "service-2", "limit 0.5"} <= set(texts(cpu.svg))
    assert cpu.caption == (
        "share of the reserved CPU used over the profile: service-1 40%, service-2 50%"
    )


def test_the_memory_caption_counts_oom_kills() -> None:
    memory = figures(evidence(oom_kills=1))["capacity-memory"]
    assert memory.caption == "1 OOM kills and 0 restarts across the replicas"
    assert "limit 512" in texts(memory.svg)


def test_evidence_without_series_gives_no_figure() -> None:
    assert figures({"phases": [], "peak_p95_ms": 40.0}) == {}
