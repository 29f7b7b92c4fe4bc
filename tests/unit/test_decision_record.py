"""The decision-record grader: the ADR's structure, and its expected peak, p95 and cost set
beside the launch, the capacity run and the prices, each at the edge of its tolerance."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from prodproven.graders.decision_record import (
    WEIGHTS,
    DecisionRecordGrader,
    DecisionRecordParams,
    score_record,
)
from prodproven.graders.deployment import DeploymentInvalid, Pricing
from prodproven.graders.frontmatter import parse_document
from tests.unit.evaluationsupport import FakeEnv, result

PARAMS = DecisionRecordParams(pricing="pricing.json", launch="launch.json")
TRUTH = {"peak_rps": 44.0, "monthly_cost": 32.85, "peak_p95_ms": 80.0, "currency": "USD"}
SECTIONS = {
    "Context": "Launch day next week; the forecast from history is 44 requests per second "
    "at peak, and the SLO is p95 under 200 ms with under 1% errors.",
    "Options considered": "| model | AUC | ms per request |\n|---|---|---|\n"
    "| large | 0.89 | 25 |\n| medium | 0.875 | 4 |\n| linear | 0.80 | 0.5 |",
    "Decision": "Serve the medium model on two replicas of half a CPU and 512 MB each.",
    "Consequences": "At peak each replica runs near 60% of its CPU; a second spike above 60 "
    "requests per second would need a third replica.",
}


def adr(front: dict[str, Any] | None = None, sections: dict[str, str] | None = None) -> str:
    values = {"expected_peak_rps": 44, "expected_p95_ms_at_peak": 60, "monthly_cost": 32.85}
    values |= front or {}
    head = "\n".join(f"{k}: {v}" for k, v in values.items() if v is not None)
    body = "\n\n".join(f"## {k}\n\n{v}" for k, v in (sections or SECTIONS).items())
    return f"---\n{head}\n---\n\n# Serving the launch\n\n{body}\n"


def graded(text: str, **truth: Any) -> Any:
    return score_record(parse_document(text), {**TRUTH, **truth}, PARAMS)


def test_a_complete_record_whose_numbers_hold_scores_full() -> None:
    got = graded(adr())
    assert got.score == 1.0 and got.passed and got.findings == []
    assert got.evidence["statements"]["p95"] == "stated p95 at peak 60 ms; measured at peak 80 ms"
    assert got.summary == "structure complete; every number within tolerance"


# structure ---------------------------------------------------------------------------------


def test_a_missing_section_costs_its_share_of_the_structure() -> None:
    sections = {k: v for k, v in SECTIONS.items() if k != "Consequences"}
    got = graded(adr(sections=sections))
    assert got.evidence["parts"]["structure"] == pytest.approx((1 + 3 / 4) / 2, abs=1e-3)
    assert "## Consequences: missing" in got.evidence["structure_problems"]


def test_a_template_placeholder_is_not_content() -> None:
    placeholder = "<!-- Which options did you compare, with the numbers that decided it? -->"
    got = graded(adr(sections={**SECTIONS, "Options considered": placeholder}))
    assert (
        "## Options considered: 0 words (at least 8 wanted)" in got.evidence["structure_problems"]
    )


def test_options_without_the_numbers_that_decided_them_are_not_enough() -> None:
    words = "We looked at the large model and the linear one and chose between them by feel."
    got = graded(adr(sections={**SECTIONS, "Options considered": words}))
    assert any("0 numbers" in p for p in got.evidence["structure_problems"])


def test_a_front_matter_value_that_is_not_a_number_fails_structure_and_its_check() -> None:
    got = graded(adr({"monthly_cost": "about thirty dollars"}))
    assert (
        "front matter: monthly_cost is missing or not a number"
        in (got.evidence["structure_problems"])
    )
    assert got.evidence["parts"]["cost"] == 0.0
    assert got.evidence["statements"]["monthly_cost"].startswith("nothing stated; computed")


# the numbers, at the edges of their tolerances -----------------------------------------------


@pytest.mark.parametrize(
    ("stated", "real", "ok"),
    [
        (32.85, 32.85, True),
        (33.17, 32.85, True),  # 0.97% over
        (33.20, 32.85, False),  # 1.07% over
        (0.50, 0.49, True),  # a cent off a tiny cost
        (0.52, 0.49, False),
    ],
)
def test_the_stated_cost_must_be_the_computed_one_within_1_percent_or_a_cent(
    stated: float, real: float, ok: bool
) -> None:
    got = graded(adr({"monthly_cost": stated}), monthly_cost=real)
    assert got.evidence["parts"]["cost"] == (1.0 if ok else 0.0)


@pytest.mark.parametrize(("stated", "ok"), [(33, True), (55, True), (32.9, False), (55.1, False)])
def test_the_expected_peak_must_be_within_25_percent_of_the_launch(stated: float, ok: bool) -> None:
    got = graded(adr({"expected_peak_rps": stated}))
    assert got.evidence["parts"]["peak"] == (1.0 if ok else 0.0)


@pytest.mark.parametrize(
    ("stated", "measured", "ok"),
    [
        (40, 80, True),  # half
        (160, 80, True),  # double
        (39, 80, False),
        (161, 80, False),
        (5, 30, True),  # a factor of 6, but only 25 ms apart
        (4, 30, False),
    ],
)
def test_the_expected_p95_must_be_within_a_factor_of_2_or_25_ms(
    stated: float, measured: float, ok: bool
) -> None:
    got = graded(adr({"expected_p95_ms_at_peak": stated}), peak_p95_ms=measured)
    assert got.evidence["parts"]["p95"] == (1.0 if ok else 0.0)


def test_a_contradicted_number_is_a_neutral_statement_not_a_finding() -> None:
    got = graded(adr({"expected_p95_ms_at_peak": 40}), peak_p95_ms=163.0)
    assert got.evidence["statements"]["p95"] == "stated p95 at peak 40 ms; measured at peak 163 ms"
    assert got.findings == [] and got.score == pytest.approx(1 - WEIGHTS["p95"])
    assert got.passed and "outside tolerance or not comparable: p95" in got.summary


def test_a_number_nothing_measured_scores_nothing_and_says_why() -> None:
    got = graded(adr(), peak_p95_ms="not measured: capacity was not graded")
    assert got.evidence["parts"]["p95"] == 0.0
    assert got.evidence["statements"]["p95"] == "p95 at peak: not measured: capacity was not graded"


# grade(), with a fake environment ------------------------------------------------------------


def env_for(tmp_path: Path, text: str | None = None, **changes: Any) -> FakeEnv:
    pricing = Pricing(currency="USD", vcpu_hour=0.04, gib_hour=0.005).model_dump_json().encode()
    settings: dict[str, Any] = {
        "hidden": {"pricing.json": pricing, "launch.json": b'{"peak_rps": 44}'},
        "workspace": {} if text is None else {"DECISIONS.md": text.encode()},
        "earlier": {"capacity": result(peak_p95_ms=80.0)},
    }
    return FakeEnv(tmp_path, **(settings | changes))


def test_grading_compares_with_the_launch_the_capacity_run_and_the_priced_deployment(
    tmp_path: Path,
) -> None:
    got = DecisionRecordGrader().grade(env_for(tmp_path, adr()), PARAMS)  # type: ignore[arg-type]
    assert got.score == 1.0
    assert got.evidence["truth"] == TRUTH  # 2 x 0.5 cpus, 512 MB at these prices: 32.85


def test_a_missing_or_unreadable_record_scores_zero_with_the_reason(tmp_path: Path) -> None:
    grader = DecisionRecordGrader()
    missing = grader.grade(env_for(tmp_path), PARAMS)  # type: ignore[arg-type]
    assert missing.score == 0.0 and missing.summary == "DECISIONS.md is missing from the workspace"
    plain = grader.grade(env_for(tmp_path, "# Decisions\n"), PARAMS)  # type: ignore[arg-type]
    assert "it does not start with a front matter block" in plain.summary
    aliases = "".join(f"k{i}: &a{i} [1]\n" for i in range(70))
    uses = ", ".join(f"*a{i}" for i in range(70))
    text = f"---\n{aliases}x: [{uses}]\n---\n"
    bounded = grader.grade(env_for(tmp_path, text), PARAMS)  # type: ignore[arg-type]
    assert bounded.score == 0.0 and "aliases" in bounded.summary


def test_an_invalid_deployment_leaves_the_cost_uncompared(tmp_path: Path) -> None:
    invalid = DeploymentInvalid("deploy.yaml: replicas: 6 is above the maximum of 4")
    env = env_for(tmp_path, adr(), declared=invalid)
    got = DecisionRecordGrader().grade(env, PARAMS)  # type: ignore[arg-type]
    assert got.evidence["parts"]["cost"] == 0.0
    assert "replicas: 6 is above the maximum of 4" in got.evidence["statements"]["monthly_cost"]


def test_without_a_capacity_result_the_p95_is_not_measured(tmp_path: Path) -> None:
    env = env_for(tmp_path, adr(), earlier={})
    got = DecisionRecordGrader().grade(env, PARAMS)  # type: ignore[arg-type]
    assert got.evidence["statements"]["p95"].startswith("p95 at peak: not measured: capacity")
