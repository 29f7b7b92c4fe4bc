"""The built-in plots: figures of each built-in grader kind's evidence, registered through the
``register_plots`` hook like a plugin's (runner/plugins.py lists this module).

Each reads evidence defensively (it is a stored document, possibly from an older version):
anything missing or of an unexpected type gives fewer figures, never an error.
"""

from __future__ import annotations

import math
from typing import Any

from prodproven.runner.hookspecs import Figure, Plot, hookimpl
from prodproven.runner.present.plots import (
    BAD,
    GOOD,
    INK,
    PALETTE,
    Band,
    Bars,
    Rule,
    Series,
    bar_chart,
    figure,
    line_chart,
)


def _num(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _load(name: str, ev: dict[str, Any]) -> list[Figure]:
    """Latency percentiles, request rate and error rate per second, against the SLO or target."""
    series = [r for r in map(_dict, _list(ev.get("series"))) if _num(r.get("t")) is not None]
    rows = [{**r, "failed_pct": _failed_pct(r)} for r in series]
    slo = _dict(ev.get("slo"))
    p95, slo_ms = _num(ev.get("p95_ms")), _num(slo.get("p95_ms"))
    target, rps = _num(ev.get("target_rps")), _num(ev.get("throughput_rps"))
    max_rate, rate = _num(slo.get("max_error_rate")), _num(ev.get("error_rate"))

    def column(key: str) -> list[tuple[float, float | None]]:
        return [(float(r["t"]), _num(r.get(key))) for r in rows]

    latency = [Series(key[:3], column(key)) for key in ("p50_ms", "p95_ms", "p99_ms")]
    charts = [
        ("latency", "latency per second", "latency (ms)", latency,
         [Rule(slo_ms, f"SLO p95 {slo_ms:g} ms", BAD)] if slo_ms is not None else [],
         f"graded p95 {p95:.1f} ms (median of the windows) is "
         f"{'under' if p95 <= slo_ms else 'over'} the {slo_ms:g} ms SLO"
         if p95 is not None and slo_ms is not None else "latency percentiles each second"),
        ("rate", "requests per second", "requests (req/s)",
         [Series("requests", column("requests"))],
         [Rule(target, f"target {target:g} req/s")] if target is not None else [],
         f"{rps:g} req/s measured against a target of {target:g} req/s"
         if rps is not None and target is not None else "requests sent each second"),
        ("errors", "error rate per second", "failed requests (%)",
         [Series("errors", column("failed_pct"), BAD)],
         [Rule(100 * max_rate, f"SLO {100 * max_rate:g}%", BAD)] if max_rate else [],
         f"{100 * rate:.1f}% of the measured requests failed" if rate
         else "no measured request failed" if rate == 0 else "requests that failed each second"),
    ]  # fmt: skip
    plots = []
    for key, what, y_label, lines, refs, caption in charts if rows else []:
        title, x_label = f"{name}: {what}", "seconds since the load started (s)"
        svg = line_chart(title, lines, x_label=x_label, y_label=y_label, refs=refs)
        plots.append(figure(name, key, title, svg, caption))
    return plots


def _failed_pct(row: dict[str, Any]) -> float | None:
    requests = _num(row.get("requests"))
    return 100 * (_num(row.get("errors")) or 0.0) / requests if requests else None


def _incident(name: str, ev: dict[str, Any]) -> list[Figure]:
    """Per incident: probe latency around the injection against the SLO, unhealthy windows and
    probes in red, and markers where the fault was injected, broke the SLO, paged the candidate
    (the on-call alert fired), was acknowledged and was mitigated."""
    slo_ms = _num(_dict(ev.get("slo")).get("latency_ms"))
    rows = [r for r in _list(ev.get("series")) if len(_list(r)) >= 4 and _num(r[0]) is not None]
    plots = []
    for index, incident in enumerate(map(_dict, _list(ev.get("incidents"))), 1):
        at = _num(incident.get("injected_at"))
        if at is None or not rows:
            continue
        broke, ttm = _num(incident.get("broke_after_s")), _num(incident.get("time_to_mitigate_s"))
        paged, acked = (_num(incident.get(k)) for k in ("alerted_after_s", "acknowledged_after_s"))
        marks = [(0.0, "injected", INK), (broke, "broke", BAD), (paged, "paged", PALETTE[1]),
                 (acked, "acknowledged", PALETTE[3]), (ttm, "mitigated", GOOD)]  # fmt: skip
        bands = [
            Band(start, end, f"{w.get('problem') or 'unhealthy'} ({start:g} s to {end:g} s)")
            for w in map(_dict, _list(incident.get("timeline")))
            if w.get("healthy") is False
            and (start := _num(w.get("start_s"))) is not None
            and (end := _num(w.get("end_s"))) is not None
        ]
        # [t, latency, status, healthy]; without an answer (status None), latency is the time
        # the probe took to fail: ~0 ms refused, the probe's timeout when nothing answered
        probes = [(round(r[0] - at, 3), _num(r[1]), r[2] is None, r[3] is False) for r in rows]
        before = max(30.0, max(p[0] for p in probes) / 4)  # the lead-up, not the whole run
        probes = [p for p in probes if p[0] >= -before]
        answered = [(t, ms) for t, ms, none, bad in probes if bad and not none]
        lines = [
            Series("probe latency", [(t, ms) for t, ms, _, _ in probes]),
            Series("unhealthy answer", answered, BAD, dots=True),
            Series("no answer", [(t, ms) for t, ms, none, _ in probes if none], INK, dots=True),
        ]
        title = f"Incident {index}: {incident.get('fault') or 'fault'}"
        refs = [Rule(slo_ms, f"SLO {slo_ms:g} ms", BAD)] if slo_ms is not None else []
        rules = [Rule(x, label, color) for x, label, color in marks if x is not None]
        axes: dict[str, Any] = {
            "x_label": "seconds since the injection (s)",
            "y_label": "latency (ms)",
        }
        svg = line_chart(title, lines, **axes, refs=refs, markers=rules,
                         bands=bands, band_name="unhealthy window")  # fmt: skip
        caption = _incident_caption(broke, ttm, _num(incident.get("unhealthy_s")))
        caption += _alert_caption(paged, acked)
        if incident.get("healthy_at_end") is False:
            caption += "; still unhealthy at the end of the run"
        plots.append(figure(name, f"{index}-timeline", title, svg, caption))
    return plots


def _incident_caption(broke: float | None, ttm: float | None, bad: float | None) -> str:
    if broke is None:
        return "the SLO never broke after the injection"
    unhealthy = "" if bad is None else f", {bad:.0f} s unhealthy in all"
    if ttm is None:
        return f"never mitigated: the SLO broke {broke:.0f} s after the injection{unhealthy}"
    return f"mitigated {ttm:.0f} s after the injection (SLO broke after {broke:.0f} s{unhealthy})"


def _alert_caption(paged: float | None, acked: float | None) -> str:
    if paged is None:
        return ""
    seen = "never acknowledged" if acked is None else f"acknowledged after {acked:.0f} s"
    return f"; the alert paged after {paged:.0f} s, {seen}"


def _mlflow_model(name: str, ev: dict[str, Any]) -> list[Figure]:
    """The claimed AUC beside the AUC and accuracy measured on hidden data and the old
    champion's AUC, against the target."""
    measured, accuracy = _num(ev.get("measured_auc")), _num(ev.get("measured_accuracy"))
    if measured is None:
        return []
    claimed, baseline = _num(ev.get("claimed_auc")), _num(ev.get("baseline_auc"))
    target = _num(ev.get("target_auc"))
    bars = [
        Bars("claimed", [claimed, None], PALETTE[1]),
        Bars("measured on hidden data", [measured, accuracy], PALETTE[0]),
        Bars("old champion", [baseline, None], PALETTE[5]),
    ]
    groups = ["AUC", "accuracy"] if accuracy is not None else ["AUC"]
    refs = [Rule(target, f"target AUC {target:g}", INK)] if target is not None else []
    title = f"{ev.get('model') or name}: claimed vs measured"
    bars = [b for b in bars if b.values[0] is not None]
    svg = bar_chart(title, groups, bars, y_label="score (0 to 1)", refs=refs, y_max=1.0,
                    value_format=lambda v: f"{v:.3f}")  # fmt: skip
    context = "" if baseline is None else f" (old champion {baseline:.3f})"
    context = " (the same as the old champion's)" if baseline == measured else context
    if claimed is None:
        caption = f"measured AUC {measured:.3f} on hidden data{context}; no claim was logged"
    elif ev.get("honest") is False:
        caption = f"the claimed AUC {claimed:.3f} is not reproduced: {measured:.3f} measured"
    else:
        caption = f"measured AUC {measured:.3f} on hidden data, {claimed:.3f} claimed{context}"
    return [figure(name, "claimed", title, svg, caption)]


def _correctness(name: str, ev: dict[str, Any]) -> list[Figure]:
    """The share of hidden inputs answered correctly beside the share one constant answer (the
    most common expected value) would have matched."""
    matched, total = _num(ev.get("matched")), _num(ev.get("total"))
    fraction, constant = _num(ev.get("match_fraction")), _num(ev.get("constant_answer_fraction"))
    if matched is None or not total or fraction is None:
        return []
    bars = [Bars("answered correctly", [100 * fraction], GOOD)]
    if constant is not None:
        bars.append(Bars("one constant answer", [100 * constant], PALETTE[5]))
    title = f"{name}: hidden inputs answered correctly"
    svg = bar_chart(title, ["hidden inputs"], bars, y_label="share (%)", y_max=100.0,
                    value_format=lambda v: f"{v:.1f}%")  # fmt: skip
    caption = f"{matched:.0f} of {total:.0f} hidden inputs answered correctly"
    if constant is not None:
        caption += f"; answering every input alike would match {100 * constant:.1f}%"
    return [figure(name, "answers", title, svg, caption)]


def _pytest(name: str, ev: dict[str, Any]) -> list[Figure]:
    """How many hidden tests passed and failed."""
    passed, total = _num(ev.get("passed")), _num(ev.get("total"))
    if passed is None or not total:
        return []
    bars = [Bars("passed", [passed], GOOD), Bars("failed", [total - passed], BAD)]
    title = f"{name}: hidden tests"
    svg = bar_chart(title, ["hidden tests"], bars, y_label="tests")
    failing = [str(_dict(c).get("test", "")).rsplit("::", 1)[-1] for c in _list(ev.get("failing"))]
    caption = f"{passed:.0f} of {total:.0f} hidden tests passed"
    if failing:
        more = f" and {len(failing) - 3} more" if len(failing) > 3 else ""
        caption += f"; failing: {', '.join(failing[:3])}{more}"
    return [figure(name, "tests", title, svg, caption)]


def _notebook(name: str, ev: dict[str, Any]) -> list[Figure]:
    """Each expected answer's score after re-executing the notebook, beside the share of code
    cells that ran cleanly."""
    checks = [
        (str(c.get("tag")), score)
        for c in map(_dict, _list(ev.get("expectations")))
        if (score := _num(c.get("score"))) is not None
    ]
    executed = _num(ev.get("executed_ok"))
    if not checks:
        return []
    groups = [tag for tag, _ in checks] + (["cells ran cleanly"] if executed is not None else [])
    values = [score for _, score in checks] + ([executed] if executed is not None else [])
    title = f"{name}: re-executed notebook"
    bars = [Bars("re-executed", values)]
    svg = bar_chart(title, groups, bars, y_label="score (0 to 1)", y_max=1.0,
                    value_format=lambda v: f"{v:.2f}")  # fmt: skip
    reproduced = sum(1 for _, score in checks if score >= 0.999)
    caption = f"{reproduced} of {len(checks)} expected answers reproduced on re-execution"
    if executed is not None:
        caption += f"; {100 * executed:.0f}% of code cells ran cleanly"
    return [figure(name, "expectations", title, svg, caption)]


def _postmortem(name: str, ev: dict[str, Any]) -> list[Figure]:
    """Each part of the postmortem's score (sections, root cause, timeline, prevention) beside
    its weight in the grader's score."""
    parts = {k: v for k, raw in _dict(ev.get("parts")).items() if (v := _num(raw)) is not None}
    weights = _dict(ev.get("weights"))
    if not parts:
        return []
    groups = [part.replace("_", " ") for part in parts]
    bars = [
        Bars("score", list(parts.values())),
        Bars("weight", [_num(weights.get(part)) for part in parts], PALETTE[5]),
    ]
    title = f"{name}: postmortem parts"
    svg = bar_chart(title, groups, bars, y_label="share (0 to 1)", y_max=1.0,
                    value_format=lambda v: f"{v:.2f}")  # fmt: skip
    weakest = min(parts, key=lambda part: parts[part])
    caption = f"weakest part: {weakest.replace('_', ' ')} ({parts[weakest]:.2f})"
    observed = _dict(ev.get("observed")).get("root_cause")
    if parts.get("root_cause", 0.0) < 1 and observed:
        caption += f"; the observed root cause was {observed}"
    return [figure(name, "parts", title, svg, caption)]


@hookimpl
def register_plots() -> list[Plot]:
    return [
        Plot("load", _load),
        Plot("search-load", _load),
        Plot("incident", _incident),
        Plot("mlflow_model", _mlflow_model),
        Plot("correctness", _correctness),
        Plot("pytest", _pytest),
        Plot("notebook", _notebook),
        Plot("postmortem", _postmortem),
    ]
