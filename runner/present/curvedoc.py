"""The scoring curves of docs/graders.md, drawn from the graders' own functions.

``python -m prodproven.runner.present.curvedoc docs/img`` writes ``curve-*.svg`` there;
tests/unit/test_docs.py
checks that the committed files are what this draws now, so a changed curve cannot leave its
plot behind. Each curve is evaluated at many points through the function the grader calls
(with the grader's default parameters unless noted), never re-implemented here.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from prodproven.graders.correctness import score_answers
from prodproven.graders.cost import Sizing
from prodproven.graders.curves import ramp_down, ramp_up
from prodproven.graders.decision_record import WEIGHTS as DECISION_WEIGHTS
from prodproven.graders.deployment import Pricing, monthly_cost
from prodproven.graders.incident import IncidentParams, mitigation_score
from prodproven.graders.load import LoadParams, Slo, _parts
from prodproven.graders.postmortem import WEIGHTS
from prodproven.graders.served_auc import ServedAucParams, auc_score
from prodproven.runner.present.plots import (
    BAD,
    GOOD,
    INK,
    Bars,
    Rule,
    Series,
    bar_chart,
    line_chart,
)

SLO_MS = 100.0
"""The example SLO of the load curves: deploy-model's p95 for single requests."""
BASELINE_AUC, TARGET_AUC = 0.68, 0.79
"""The example of the mlflow_model curve: fix-drift's target and its old champion's AUC."""
FLOOR_AUC = 0.85
"""The example floor of the served-auc curve: capacity-plan's."""
CONSTANT_SHARES = (0.5, 0.8)
"""Shares of the most common expected answer drawn for the correctness curve."""
STEPS = 400
"""Points per curve: enough that a cliff is drawn as a cliff."""
HEADROOM = 1.4
"""The y axis of a curve with markers reaches this, so their labels sit above full marks."""


def grid(low: float, high: float, *breaks: float) -> list[float]:
    """``STEPS`` evenly spaced points from ``low`` to ``high`` plus each break and a point just
    past it, so a curve's jump at a break is drawn where it is."""
    step = (high - low) / STEPS
    points = {round(low + i * step, 9) for i in range(STEPS + 1)}
    for at in breaks:
        points |= {at, at + step / 100}
    return sorted(points)


def _curve(name: str, xs: Sequence[float], f: Callable[[float], float]) -> Series:
    return Series(name, [(x, round(f(x), 6)) for x in xs])


def _chart(title: str, lines: Sequence[Series], x_label: str, markers: Sequence[Rule] = ()) -> str:
    """A curve's chart: score (0 to 1) over ``x_label``, thresholds as labelled markers."""
    return line_chart(
        title,
        lines,
        x_label=x_label,
        y_label="score (0 to 1)",
        markers=markers,
        y_max=HEADROOM if markers else 1.0,
        x_span=0.0,
    )


def _load_params() -> LoadParams:
    return LoadParams(payloads="payloads.json", slo=Slo(p95_ms=SLO_MS))


def load_latency() -> str:
    params = _load_params()
    zero = SLO_MS * params.latency_zero_factor
    rate, ok_errors = params.rate, params.slo.max_error_rate

    def factor(p95: float) -> float:
        return _parts(p95, ok_errors, rate, params)["latency"]

    return _chart(
        f"load: the latency factor (SLO p95 {SLO_MS:g} ms)",
        [_curve("latency factor", grid(0, zero * 1.25, SLO_MS), factor)],
        "graded p95 (ms)",
        [
            Rule(SLO_MS, f"SLO {SLO_MS:g} ms", BAD),
            Rule(zero, f"latency_zero_factor × SLO = {zero:g} ms", INK),
        ],
    )


def load_errors() -> str:
    params = _load_params()
    limit = params.slo.max_error_rate
    zero = max(params.error_zero_rate, 2 * limit)

    def factor(percent: float) -> float:
        return _parts(SLO_MS, percent / 100, params.rate, params)["errors"]

    return _chart(
        "load: the error factor",
        [_curve("error factor", grid(0, zero * 125, limit * 100), factor)],
        "failed requests (%)",
        [
            Rule(limit * 100, f"max_error_rate {limit:.0%}", BAD),
            Rule(zero * 100, f"error_zero_rate {zero:.0%}", INK),
        ],
    )


def load_throughput() -> str:
    params = _load_params()
    full = params.min_throughput_ratio

    def factor(ratio: float) -> float:
        return _parts(SLO_MS, 0.0, ratio * params.rate, params)["throughput"]

    return _chart(
        "load: the throughput factor",
        [_curve("throughput factor", grid(0, 1, full / 2, full), factor)],
        "achieved rate / target rate",
        [
            Rule(full / 2, f"half of {full:g}", INK),
            Rule(full, f"min_throughput_ratio {full:g}", GOOD),
        ],
    )


def correctness() -> str:
    total = 100

    def score(share: float, corrected: bool) -> Callable[[float], float]:
        common = round(share * total)
        expected: list[Any] = [0] * common + list(range(1, total - common + 1))

        def at(fraction: float) -> float:
            matched = round(fraction * total)
            answers = expected[:matched] + [None] * (total - matched)
            report: dict[str, Any] = {"answers": answers, "problems": [], "requests": 0}
            return score_answers(report, expected, 1.0, corrected).score

        return at

    fractions = [i / total for i in range(total + 1)]
    lines = [
        _curve(f"top answer {share:.0%}", fractions, score(share, True))
        for share in CONSTANT_SHARES
    ]
    lines.append(_curve("not corrected", fractions, score(0.5, False)))
    return _chart(
        "correctness: score over the share answered right",
        lines,
        "share of hidden inputs answered right",
    )


def mlflow_quality() -> str:
    def quality(auc: float) -> float:
        return ramp_up(auc, zero=BASELINE_AUC, full=TARGET_AUC)

    return _chart(
        "mlflow_model: quality over the measured AUC",
        [_curve("quality", grid(0.6, 0.85, BASELINE_AUC, TARGET_AUC), quality)],
        "AUC measured on hidden data",
        [
            Rule(BASELINE_AUC, f"old champion {BASELINE_AUC:g}", INK),
            Rule(TARGET_AUC, f"target_auc {TARGET_AUC:g}", GOOD),
        ],
    )


def incident_mitigation() -> str:
    defaults = IncidentParams()
    grace, half_life = defaults.grace_s, defaults.half_life_s
    end = grace + 4 * half_life

    def score(minutes: float) -> float:
        return mitigation_score(minutes * 60, grace, half_life)

    return _chart(
        "incident: score over time to mitigate",
        [_curve("score", grid(0, end / 60, grace / 60), score)],
        "time to mitigate (minutes)",
        [
            Rule(grace / 60, f"grace_s {grace:g} s", GOOD),
            Rule((grace + half_life) / 60, f"+ half_life_s {half_life:g} s: half", INK),
        ],
    )


def _parts_chart(kind: str, weights: dict[str, float]) -> str:
    return bar_chart(
        f"{kind}: what each part is worth",
        [name.replace("_", " ") for name in weights],
        [Bars("weight", list(weights.values()))],
        y_label="share of the score",
        value_format=lambda v: f"{v:g}",
    )


def postmortem_parts() -> str:
    return _parts_chart("postmortem", WEIGHTS)


def decision_record_parts() -> str:
    return _parts_chart("decision-record", DECISION_WEIGHTS)


def served_auc() -> str:
    params = ServedAucParams(requests="r.json", labels="l.json", floor=FLOOR_AUC)
    low, full = FLOOR_AUC - params.zero_below, FLOOR_AUC + params.full_above
    return _chart(
        f"served-auc: score over the served AUC (floor {FLOOR_AUC:g})",
        [_curve("score", grid(0.7, 0.95, low, FLOOR_AUC, full), lambda a: auc_score(a, params))],
        "ROC AUC on hidden labelled requests",
        [
            Rule(low, f"floor − zero_below {low:g}", INK),
            Rule(FLOOR_AUC, f"floor {FLOOR_AUC:g}", BAD),
            Rule(full, f"floor + full_above {full:g}", GOOD),
        ],
    )


def cost() -> str:
    pricing = Pricing(currency="USD", vcpu_hour=0.04, gib_hour=0.005)
    full = monthly_cost(Sizing(replicas=2, cpus=0.5, memory_mb=512), pricing)
    zero = monthly_cost(Sizing(replicas=4, cpus=0.5, memory_mb=2048), pricing)
    return _chart(
        "cost: score over the monthly cost",
        [
            _curve(
                "score",
                grid(0, zero * 1.2, full, zero),
                lambda c: ramp_down(c, full=full, zero=zero),
            )
        ],
        "monthly cost of the declared deployment (USD)",
        [
            Rule(full, f"reference {full:.2f}", GOOD),
            Rule(zero, f"zero_at {zero:.2f}", INK),
        ],
    )


CURVES: dict[str, Callable[[], str]] = {
    "curve-correctness.svg": correctness,
    "curve-load-latency.svg": load_latency,
    "curve-load-errors.svg": load_errors,
    "curve-load-throughput.svg": load_throughput,
    "curve-mlflow-quality.svg": mlflow_quality,
    "curve-incident-mitigation.svg": incident_mitigation,
    "curve-postmortem-parts.svg": postmortem_parts,
    "curve-served-auc.svg": served_auc,
    "curve-cost.svg": cost,
    "curve-decision-record-parts.svg": decision_record_parts,
}


def drawings() -> dict[str, str]:
    """Each curve's file name and SVG (with a final newline, as committed)."""
    return {name: draw() + "\n" for name, draw in CURVES.items()}


def write(folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, svg in drawings().items():
        path = folder / name
        path.write_text(svg)
        written.append(path)
    return written


def main(argv: Sequence[str]) -> int:
    if len(argv) != 1:
        usage = "usage: python -m prodproven.runner.present.curvedoc FOLDER  (docs/img)"
        print(usage, file=sys.stderr)
        return 2
    for path in write(Path(argv[0])):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
