"""The cost grader: the declared deployment priced at the hidden prices, scored from the
reference deployment's cost to the over-provisioned one's, with the capacity run's CPU
utilisation beside it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from prodproven.graders.base import GraderError
from prodproven.graders.cost import CostGrader, CostParams, Sizing, score_cost
from prodproven.graders.deployment import DeploymentInvalid, Pricing, monthly_cost
from tests.unit.evaluationsupport import FakeEnv, deploy, result

PRICING = Pricing(currency="USD", vcpu_hour=0.04, gib_hour=0.005)
PARAMS = CostParams.model_validate(
    {
        "pricing": "pricing.json",
        "reference": {"replicas": 2, "cpus": 0.5, "memory_mb": 512},
        "zero_at": {"replicas": 4, "cpus": 0.5, "memory_mb": 2048},
    }
)
REFERENCE = 2 * (0.5 * 0.04 + 0.5 * 0.005) * 730  # 32.85
ZERO = 4 * (0.5 * 0.04 + 2 * 0.005) * 730  # 87.60


def test_sizes_are_priced_like_deployments() -> None:
    assert monthly_cost(PARAMS.reference, PRICING) == pytest.approx(REFERENCE)
    assert monthly_cost(PARAMS.zero_at, PRICING) == pytest.approx(ZERO)


@pytest.mark.parametrize(
    ("sizing", "expected"),
    [
        ({"replicas": 1, "cpus": 0.5, "memory_mb": 512}, 1.0),  # cheaper than the reference
        ({"replicas": 2, "cpus": 0.5, "memory_mb": 512}, 1.0),  # the reference itself
        ({"replicas": 4, "cpus": 0.5, "memory_mb": 2048}, 0.0),  # the over-provisioned one
        ({"replicas": 4, "cpus": 0.5, "memory_mb": 1024}, (ZERO - 73.0) / (ZERO - REFERENCE)),
    ],
)
def test_the_score_falls_linearly_from_the_reference_cost_to_zero(
    sizing: dict[str, Any], expected: float
) -> None:
    got = score_cost(deploy(**sizing), PRICING, PARAMS, {})
    assert got.score == pytest.approx(expected, abs=1e-4)
    assert got.evidence["reference_cost"] == 32.85 and got.evidence["zero_cost"] == 87.6


def test_the_evidence_prices_the_declared_deployment() -> None:
    got = score_cost(deploy(3, 0.5, 1024), PRICING, PARAMS, {})
    assert got.evidence["monthly_cost"] == 54.75 and got.evidence["currency"] == "USD"
    assert got.evidence["deployment"]["total_cpus"] == 1.5
    assert got.passed and "54.75 USD/month for 3 x 0.5 cpus, 1024 MB" in got.summary


def test_a_zero_point_cheaper_than_the_reference_is_a_grader_error() -> None:
    params = PARAMS.model_copy(update={"zero_at": Sizing(replicas=1, cpus=0.25, memory_mb=128)})
    with pytest.raises(GraderError, match="zero_at costs"):
        score_cost(deploy(), PRICING, params, {})


def env_for(tmp_path: Path, **changes: Any) -> FakeEnv:
    return FakeEnv(tmp_path, hidden={"pricing.json": PRICING.model_dump_json().encode()},
                   **changes)  # fmt: skip


def test_utilisation_comes_from_the_capacity_run(tmp_path: Path) -> None:
    phases = [{"name": "peak", "replicas": {"service-1": {"utilisation": 0.61}}}]
    capacity = result(utilisation=0.42, cpu_seconds=42.0, reserved_cpu_seconds=100.0,
                      phases=phases)  # fmt: skip
    env = env_for(tmp_path, earlier={"capacity": capacity})
    got = CostGrader().grade(env, PARAMS)  # type: ignore[arg-type]
    assert got.evidence["utilisation"] == 0.42
    assert got.evidence["cpu_seconds_reserved"] == 100.0
    assert got.evidence["utilisation_by_phase"] == {"peak": {"service-1": 0.61}}
    assert "42% of the reserved CPU used under load" in got.summary


def test_without_a_capacity_run_the_utilisation_is_a_note(tmp_path: Path) -> None:
    got = CostGrader().grade(env_for(tmp_path), PARAMS)  # type: ignore[arg-type]
    assert got.score == 1.0 and "utilisation" not in got.evidence
    assert "capacity was not graded" in got.evidence["utilisation_note"]
    unnamed = PARAMS.model_copy(update={"capacity_grader": None})
    got = CostGrader().grade(env_for(tmp_path), unnamed)  # type: ignore[arg-type]
    assert got.evidence["utilisation_note"] == "no capacity grader named"


def test_an_invalid_deployment_fails_the_grader_with_its_message(tmp_path: Path) -> None:
    env = env_for(tmp_path, declared=DeploymentInvalid("deploy.yaml: replicas: 6 is above 4"))
    with pytest.raises(DeploymentInvalid, match="replicas: 6"):
        CostGrader().grade(env, PARAMS)  # type: ignore[arg-type]


def test_prices_that_are_not_a_price_list_are_a_grader_error(tmp_path: Path) -> None:
    env = FakeEnv(tmp_path, hidden={"pricing.json": json.dumps({"vcpu_hour": 1}).encode()})
    with pytest.raises(GraderError, match="pricing.json: not prices .*: currency: Field required"):
        CostGrader().grade(env, PARAMS)  # type: ignore[arg-type]
