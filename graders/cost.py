"""The ``cost`` grader: what the declared deployment costs per month at the hidden prices,
scored between a reference deployment's cost (full marks at or below it) and an obviously
over-provisioned one's (zero), with the CPU it used during the capacity run against what it
reserved, so an assessor sees the headroom the money bought.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from prodproven.graders.base import (
    HIDDEN_FILE,
    EvaluationEnvironment,
    Grader,
    GraderError,
    GradeResult,
    Params,
    read_hidden,
)
from prodproven.graders.curves import ramp_down
from prodproven.graders.deployment import DeployFile, Pricing, monthly_cost


class Sizing(Params):
    """A deployment's size without its model: what a reservation is priced on."""

    replicas: int = Field(ge=1, description="how many replicas")
    cpus: float = Field(gt=0, description="CPUs of each replica")
    memory_mb: int = Field(gt=0, description="memory of each replica in MB")


class CostParams(Params):
    pricing: str = Field(
        description="hidden JSON prices (currency, vcpu_hour, gib_hour)",
        json_schema_extra=HIDDEN_FILE,
    )
    reference: Sizing = Field(description="full marks at or below this deployment's cost")
    zero_at: Sizing = Field(description="0 at or above this deployment's cost")
    capacity_grader: str | None = Field(
        "capacity", description="grader whose evidence gives the CPU utilisation (null: none)"
    )
    pass_score: float = Field(0.5, ge=0, le=1, description="score that counts as passed")


def read_pricing(env: EvaluationEnvironment, rel: str) -> Pricing:
    return read_hidden(env, rel, Pricing, "prices (currency, vcpu_hour, gib_hour)")


def capacity_usage(env: EvaluationEnvironment, grader: str | None) -> dict[str, Any]:
    """CPU seconds used over reserved during the capacity run, from its evidence; a note
    instead when there is none (not graded, failed, or no usage sampled)."""
    if grader is None:
        return {"utilisation_note": "no capacity grader named"}
    try:
        evidence = env.earlier_result(grader).evidence
    except GraderError as exc:
        return {"utilisation_note": str(exc)}
    if evidence.get("utilisation") is None:
        return {"utilisation_note": f"{grader} measured no CPU usage"}
    return {
        "utilisation": evidence["utilisation"],
        "cpu_seconds_used": evidence.get("cpu_seconds"),
        "cpu_seconds_reserved": evidence.get("reserved_cpu_seconds"),
        "utilisation_by_phase": {
            str(p.get("name")): {n: u.get("utilisation") for n, u in p.get("replicas", {}).items()}
            for p in evidence.get("phases", [])
        },
    }


class CostGrader(Grader[CostParams]):
    kind = "cost"
    description = "Monthly cost of the declared deployment, from the reference's to zero."
    Params = CostParams

    def grade(self, env: EvaluationEnvironment, params: CostParams) -> GradeResult:
        pricing = read_pricing(env, params.pricing)
        deploy = env.deployment()  # DeploymentInvalid (a GraderError) says what is wrong
        return score_cost(deploy, pricing, params, capacity_usage(env, params.capacity_grader))


def score_cost(
    deploy: DeployFile, pricing: Pricing, params: CostParams, usage: dict[str, Any]
) -> GradeResult:
    cost = monthly_cost(deploy, pricing)
    reference = monthly_cost(params.reference, pricing)
    zero = monthly_cost(params.zero_at, pricing)
    if zero <= reference:
        raise GraderError(
            f"zero_at costs {zero:g} {pricing.currency}, not more than reference "
            f"({reference:g}): the curve needs zero_at to cost more"
        )
    score = ramp_down(cost, full=reference, zero=zero)
    currency = pricing.currency
    summary = (
        f"{cost:.2f} {currency}/month for {deploy.replicas} x {deploy.cpus:g} cpus, "
        f"{deploy.memory_mb} MB (reference {reference:.2f}, zero at {zero:.2f})"
    )
    if usage.get("utilisation") is not None:
        summary += f"; {float(usage['utilisation']):.0%} of the reserved CPU used under load"
    return GradeResult(
        score=round(score, 4),
        passed=score >= params.pass_score,
        summary=summary,
        evidence={
            "monthly_cost": cost,
            "currency": currency,
            "reference_cost": reference,
            "zero_cost": zero,
            "deployment": {
                "model": deploy.model,
                "replicas": deploy.replicas,
                "cpus": deploy.cpus,
                "memory_mb": deploy.memory_mb,
                "total_cpus": deploy.total_cpus,
                "total_memory_mb": deploy.total_memory_mb,
            },
            "pricing": pricing.model_dump(),
            **usage,
        },
    )
