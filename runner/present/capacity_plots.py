"""The ``capacity`` grader's figures: latency and request rate over the launch profile with
its phases marked, and each replica's CPU and memory against what it reserved. Registered
through the ``register_plots`` hook like the other built-in plots (runner/plugins.py lists
this module).

Evidence is read defensively, as in builtin_plots.py: anything missing gives fewer figures.
"""

from __future__ import annotations

from typing import Any

from prodproven.runner.hookspecs import Figure, Plot, hookimpl
from prodproven.runner.present.builtin_plots import _dict, _list, _num
from prodproven.runner.present.plots import BAD, INK, Rule, Series, figure, line_chart

X_LABEL = "seconds since the launch profile began (s)"


def _phase_markers(ev: dict[str, Any]) -> list[Rule]:
    """A labelled vertical line where each phase begins (measured phases only are reported)."""
    return [
        Rule(start, str(p.get("name") or "?"), BAD if p.get("slo") else INK)
        for p in map(_dict, _list(ev.get("phases")))
        if (start := _num(p.get("start_s"))) is not None
    ]


def _load_figures(name: str, ev: dict[str, Any]) -> list[Figure]:
    rows = [r for r in map(_dict, _list(ev.get("series"))) if _num(r.get("t")) is not None]
    if not rows:
        return []
    markers = _phase_markers(ev)
    slo_ms = _num(_dict(ev.get("slo")).get("p95_ms"))
    peak_p95 = _num(ev.get("peak_p95_ms"))

    def column(key: str) -> list[tuple[float, float | None]]:
        return [(float(r["t"]), _num(r.get(key))) for r in rows]

    latency = [Series(key[:3], column(key)) for key in ("p50_ms", "p95_ms", "p99_ms")]
    refs = [Rule(slo_ms, f"SLO p95 {slo_ms:g} ms", BAD)] if slo_ms is not None else []
    title = f"{name}: latency through the launch"
    svg = line_chart(title, latency, x_label=X_LABEL, y_label="latency (ms)", refs=refs,
                     markers=markers)  # fmt: skip
    caption = "latency percentiles each second"
    if peak_p95 is not None and slo_ms is not None:
        caption = f"p95 at peak {peak_p95:.0f} ms against the {slo_ms:g} ms SLO"
    caption += "; red markers begin the phases held to the SLO"
    plots = [figure(name, "latency", title, svg, caption)]

    target, achieved = _num(ev.get("peak_rps_target")), _num(ev.get("peak_rps_achieved"))
    rate = [Series("sent", column("requests")), Series("target", column("target_rps"), INK)]
    title = f"{name}: request rate through the launch"
    svg = line_chart(title, rate, x_label=X_LABEL, y_label="requests (req/s)", markers=markers)
    caption = (
        f"{achieved:g} of {target:g} req/s sent at peak"
        if target is not None and achieved is not None
        else "requests sent each second against the profile's target"
    )
    plots.append(figure(name, "rate", title, svg, caption))
    return plots


def _usage_figures(name: str, ev: dict[str, Any]) -> list[Figure]:
    rows = [r for r in map(_dict, _list(ev.get("usage_series"))) if _num(r.get("t")) is not None]
    replicas = {str(r.get("name")): r for r in map(_dict, _list(ev.get("replicas")))}
    if not rows:
        return []
    names = sorted({str(r.get("replica")) for r in rows})
    markers = _phase_markers(ev)
    plots = []
    for key, what, unit, limit_key in (
        ("cpu_cores", "CPU", "CPU used (cores)", "cpus"),
        ("memory_mb", "memory", "memory (MB)", "memory_mb"),
    ):
        lines = [
            Series(n, [(float(r["t"]), _num(r.get(key))) for r in rows if r.get("replica") == n])
            for n in names
        ]
        limits = sorted({v for n in names if (v := _num(replicas.get(n, {}).get(limit_key)))})
        refs = [Rule(v, f"limit {v:g}", BAD) for v in limits]
        title = f"{name}: {what} per replica"
        svg = line_chart(title, lines, x_label=X_LABEL, y_label=unit, refs=refs, markers=markers)
        plots.append(figure(name, key.split("_")[0], title, svg, _usage_caption(key, replicas)))
    return plots


def _usage_caption(key: str, replicas: dict[str, dict[str, Any]]) -> str:
    if key == "cpu_cores":
        shares = [f"{n} {100 * u:.0f}%" for n, r in replicas.items()
                  if (u := _num(r.get("utilisation"))) is not None]  # fmt: skip
        return ("share of the reserved CPU used over the profile: " + ", ".join(shares)
                if shares else "CPU cores each replica used between samples")  # fmt: skip
    ooms = sum(int(_num(r.get("oom_kills")) or 0) for r in replicas.values())
    restarts = sum(int(_num(r.get("restarts")) or 0) for r in replicas.values())
    if ooms or restarts:
        return f"{ooms} OOM kills and {restarts} restarts across the replicas"
    return "memory each replica held, against its limit; no OOM kill or restart"


def _capacity(name: str, ev: dict[str, Any]) -> list[Figure]:
    """Latency and request rate through the launch profile, then CPU and memory per replica."""
    return _load_figures(name, ev) + _usage_figures(name, ev)


@hookimpl
def register_plots() -> list[Plot]:
    return [Plot("capacity", _capacity)]
