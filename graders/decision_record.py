"""The ``decision-record`` grader: the candidate's architecture decision record (ADR), read as
data, and its numbers set beside what the grading found.

The ADR's front matter states what the candidate expects (``expected_peak_rps``,
``expected_p95_ms_at_peak``, ``monthly_cost``); the grader compares each with the truth (the
launch's real peak, the capacity run's measured p95 at peak, the declared deployment's cost at
the hidden prices) within a documented tolerance. A number that misses is an expectation that
did not hold, which the evidence states plainly beside the measurement; it is not an integrity
finding (those are for claims of what happened that the record shows impossible, as in the
postmortem grader).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any

from pydantic import Field

from prodproven.graders.base import (
    HIDDEN_FILE,
    EvaluationEnvironment,
    Grader,
    GraderError,
    GradeResult,
    Params,
)
from prodproven.graders.capacity import read_launch
from prodproven.graders.cost import read_pricing
from prodproven.graders.deployment import monthly_cost
from prodproven.graders.frontmatter import (
    Document,
    DocumentInvalid,
    norm,
    parse_document,
    read_document,
    zero_because,
)

WEIGHTS = {"structure": 0.4, "cost": 0.2, "peak": 0.2, "p95": 0.2}
"""Structure weighs most: a record whose reasoning is written down is most of its value; each
number that matches what happened earns the rest."""
KEYS = ("expected_peak_rps", "expected_p95_ms_at_peak", "monthly_cost")
_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)
_WORD = re.compile(r"[A-Za-z0-9]+")
_NUMBER = re.compile(r"\d+(?:[.,]\d+)?")
Closeness = Callable[[float, float], bool]


class DecisionRecordParams(Params):
    file: str = Field("DECISIONS.md", description="file in the workspace")
    pricing: str = Field(
        description="hidden JSON prices the cost is computed with", json_schema_extra=HIDDEN_FILE
    )
    launch: str = Field(
        description='hidden JSON with the launch\'s real "peak_rps"', json_schema_extra=HIDDEN_FILE
    )
    capacity_grader: str = Field(
        "capacity", description="grader whose evidence holds the measured peak_p95_ms"
    )
    sections: list[str] = Field(
        default_factory=lambda: ["Context", "Options considered", "Decision", "Consequences"],
        min_length=1,
        description="## headings that must be present with content (case-insensitive)",
    )
    min_words: int = Field(8, ge=1, description="words a section needs, outside HTML comments")
    min_option_numbers: int = Field(
        2, ge=0, description="numbers the first section named Options needs (what decided it)"
    )
    cost_tolerance: float = Field(0.01, ge=0, description="relative; at least 0.01 in currency")
    peak_tolerance: float = Field(0.25, ge=0, description="relative to the launch's peak_rps")
    p95_factor: float = Field(2.0, ge=1, description="stated p95 within this factor of measured")
    p95_slack_ms: float = Field(25, ge=0, description="or within this many ms of it")
    pass_score: float = Field(0.7, ge=0, le=1, description="score that counts as passed")


def number(value: Any) -> float | None:
    """A front matter value as a finite number ("29.93" too), or None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            return None
    if isinstance(value, int | float) and math.isfinite(value):
        return float(value)
    return None


def content_problem(body: str, min_words: int, min_numbers: int) -> str | None:
    """Why a section's body is not real content, or None: it needs ``min_words`` words and
    ``min_numbers`` numbers outside HTML comments (a template's placeholders)."""
    text = _COMMENT.sub(" ", body)
    words = len(_WORD.findall(text))
    if words < min_words:
        return f"{words} words (at least {min_words} wanted)"
    numbers = len(_NUMBER.findall(text))
    if numbers < min_numbers:
        return f"{numbers} numbers (at least {min_numbers} wanted: the figures that decided it)"
    return None


def structure(doc: Document, params: DecisionRecordParams) -> tuple[float, list[str]]:
    """Half for the front matter's numbers, half for the sections with content; the problems."""
    problems = [f"front matter: {key} is missing or not a number"
                for key in KEYS if number(doc.front.get(key)) is None]  # fmt: skip
    good = 0
    for name in params.sections:
        body = doc.sections.get(norm(name))
        wanted = params.min_option_numbers if norm(name).startswith("options") else 0
        problem = "missing" if body is None else content_problem(body, params.min_words, wanted)
        if problem:
            problems.append(f"## {name}: {problem}")
        else:
            good += 1
    keys_ok = len(KEYS) - sum(1 for p in problems if p.startswith("front matter"))
    return (keys_ok / len(KEYS) + good / len(params.sections)) / 2, problems


class DecisionRecordGrader(Grader[DecisionRecordParams]):
    kind = "decision-record"
    description = (
        "Checks the decision record's structure and its expected peak, p95 and cost against "
        "the launch, the capacity run and the prices."
    )
    Params = DecisionRecordParams

    def grade(self, env: EvaluationEnvironment, params: DecisionRecordParams) -> GradeResult:
        launch = read_launch(env, params.launch)
        pricing = read_pricing(env, params.pricing)
        try:
            doc = read_document(env, params.file, parse_document)
        except DocumentInvalid as exc:
            return zero_because(str(exc))
        try:
            cost: float | str = monthly_cost(env.deployment(), pricing)
        except GraderError as exc:  # DeploymentInvalid: no cost to compare with
            cost = f"not computed: {exc}"
        try:
            measured = number(
                env.earlier_result(params.capacity_grader).evidence.get("peak_p95_ms")
            )
        except GraderError as exc:
            measured = None
            why = f"not measured: {exc}"
        else:
            why = f"not measured: {params.capacity_grader} has no p95 at peak"
        p95: float | str = why if measured is None else measured
        truth = {"peak_rps": launch.peak_rps, "monthly_cost": cost, "peak_p95_ms": p95,
                 "currency": pricing.currency}  # fmt: skip
        return score_record(doc, truth, params)


def compare(
    what: str, stated: float | None, real: float | str, unit: str, how: str, close: Closeness
) -> tuple[float, str]:
    """1 when the stated number is close to the real one, and a neutral statement of both
    ("stated p95 at peak 40 ms; measured at peak 163 ms"); 0, and why, when ``real`` is a
    string (the reason the truth is unknown)."""
    if isinstance(real, str):
        return 0.0, f"{what}: {real}"
    said = "nothing stated" if stated is None else f"stated {what} {stated:g} {unit}"
    return float(stated is not None and close(stated, real)), f"{said}; {how} {real:g} {unit}"


def score_record(doc: Document, truth: dict[str, Any], params: DecisionRecordParams) -> GradeResult:
    """Score a parsed record against ``truth``: peak_rps, monthly_cost and peak_p95_ms (each
    a number, or a string saying why it is unknown) and the pricing's currency."""
    shape, problems = structure(doc, params)
    cost = number(doc.front.get("monthly_cost"))
    peak = number(doc.front.get("expected_peak_rps"))
    p95 = number(doc.front.get("expected_p95_ms_at_peak"))
    currency = truth["currency"]

    def close_cost(c: float, real: float) -> bool:
        return abs(c - real) <= max(params.cost_tolerance * real, 0.01) + 1e-9

    def close_peak(p: float, real: float) -> bool:
        return abs(p - real) <= params.peak_tolerance * real

    def close_p95(p: float, real: float) -> bool:
        ratio_ok = p > 0 and real > 0 and max(p / real, real / p) <= params.p95_factor
        return ratio_ok or abs(p - real) <= params.p95_slack_ms

    cost_part, cost_note = compare("monthly cost", cost, truth["monthly_cost"], currency,
                                   "computed for the declared deployment", close_cost)  # fmt: skip
    peak_part, peak_note = compare("peak", peak, truth["peak_rps"], "req/s",
                                   "the launch peaked at", close_peak)  # fmt: skip
    p95_part, p95_note = compare("p95 at peak", p95, truth["peak_p95_ms"], "ms",
                                 "measured at peak", close_p95)  # fmt: skip
    parts = {"structure": shape, "cost": cost_part, "peak": peak_part, "p95": p95_part}
    score = sum(WEIGHTS[k] * v for k, v in parts.items())
    missed = [k for k in ("cost", "peak", "p95") if parts[k] < 1]
    summary = "structure complete" if not problems else f"{len(problems)} structure problems"
    summary += "; every number within tolerance" if not missed else (
        f"; outside tolerance or not comparable: {', '.join(missed)}")  # fmt: skip
    return GradeResult(
        score=round(score, 4),
        passed=score >= params.pass_score,
        summary=summary,
        evidence={
            "parts": {k: round(v, 3) for k, v in parts.items()},
            "weights": WEIGHTS,
            "structure_problems": problems,
            "statements": {"monthly_cost": cost_note, "peak_rps": peak_note, "p95": p95_note},
            "stated": {
                "monthly_cost": cost,
                "expected_peak_rps": peak,
                "expected_p95_ms_at_peak": p95,
            },
            "truth": truth,
            "tolerances": {
                "cost": f"within {params.cost_tolerance:.0%} or 0.01 {currency}",
                "peak": f"within {params.peak_tolerance:.0%} of the launch's peak",
                "p95": f"within a factor of {params.p95_factor:g} or {params.p95_slack_ms:g} ms "
                "of the measured p95 at peak",
            },
        },
    )
