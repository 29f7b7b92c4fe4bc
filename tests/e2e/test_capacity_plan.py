"""capacity-plan through the real CLI's gate, `challenge validate`: the reference deployment
holds the SLO through the launch at its cost and passes with 90 or more, with per-phase and
per-replica evidence; the untouched starter breaks at the peak; each calibration submission
lands as a practitioner would conclude; every cheat that applies, a deployment over the quota
among them, scores 0 on what it attacks."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from prodproven.runner import plugins
from prodproven.runner.spec.challenge import load_challenge
from tests.conftest import BUILTIN
from tests.e2e.conftest import (
    FIELDS,
    GRADER_FIELDS,
    check,
    failures,
    grader,
    ladder,
    show_json,
    validate_json,
)

# timing: its capacity grader measures latency under load (infra/dev.sh runs it alone).
pytestmark = [pytest.mark.docker, pytest.mark.e2e, pytest.mark.timing]

CHALLENGE = BUILTIN / "capacity-plan"
SLO_REQUIREMENT = "SLO holds through the launch peak"


@pytest.fixture(scope="module")
def verdict(data_dir: Path) -> dict[str, Any]:
    return validate_json("capacity-plan", data_dir)


def measured_phases() -> list[str]:
    """The launch profile's measured phases, as the spec declares them."""
    spec = load_challenge(CHALLENGE, plugins.catalog()).spec
    capacity = next(g for g in spec.graders if g.kind == "capacity")
    return [p["name"] for p in capacity.params["phases"] if p.get("measured", True)]


def missed(doc: dict[str, Any]) -> list[str]:
    return [r["name"] for r in doc["requirements"] if not r["met"]]


def test_the_gate_passes(verdict: dict[str, Any]) -> None:
    assert verdict["ok"], failures(verdict)


def test_the_reference_passes_with_90_or_more_meeting_every_requirement(
    verdict: dict[str, Any], data_dir: Path
) -> None:
    doc = show_json(check(verdict, "reference")["run_id"], data_dir)
    assert doc.keys() >= FIELDS and doc["status"] == "graded"
    assert all(g.keys() >= GRADER_FIELDS for g in doc["graders"])
    assert doc["passed"] is True and doc["score"] >= 90 and missed(doc) == []
    assert set(doc["competencies"]) == {"infrastructure", "optimization"}


def test_the_references_capacity_evidence_is_per_phase_and_per_replica(
    verdict: dict[str, Any], data_dir: Path
) -> None:
    doc = show_json(check(verdict, "reference")["run_id"], data_dir)
    evidence = grader(doc, "capacity")["evidence"]
    phases = evidence["phases"]
    assert [p["name"] for p in phases] == measured_phases()
    assert all(p["requests"] > 0 and p["p95_ms"] is not None and p["replicas"] for p in phases)
    assert evidence["peak_p95_ms"] <= evidence["slo"]["p95_ms"] and evidence["series"]
    declared = yaml.safe_load((CHALLENGE / "solution" / "deploy.yaml").read_text())
    replicas = evidence["replicas"]
    assert len(replicas) == declared["replicas"]
    assert all(r["cpus"] == pytest.approx(declared["cpus"]) for r in replicas)
    assert all(r["cpu_seconds"] > 0 and r["memory_peak_mb"] > 0 for r in replicas)
    assert all(r["oom_kills"] == 0 and r["restarts"] == 0 for r in replicas)


def test_the_starter_breaks_at_the_peak_and_scores_30_or_less(
    verdict: dict[str, Any], data_dir: Path
) -> None:
    found = check(verdict, "starter")
    assert found["ok"] and found["score"] <= 30 and found["passed"] is False
    assert SLO_REQUIREMENT in missed(show_json(found["run_id"], data_dir))


@pytest.mark.parametrize("name", ["over-provisioned", "invented-adr"])
def test_a_sound_but_costlier_or_unmeasured_plan_passes_below_the_reference(
    verdict: dict[str, Any], name: str
) -> None:
    found = ladder(verdict)[name]
    assert found["ok"] and found["passed"] is True
    assert found["score"] < check(verdict, "reference")["score"]


@pytest.mark.parametrize("name", ["under-provisioned", "accurate-but-starved"])
def test_a_plan_that_cannot_hold_the_peak_misses_the_slo_and_does_not_pass(
    verdict: dict[str, Any], name: str, data_dir: Path
) -> None:
    found = ladder(verdict)[name]
    assert found["ok"] and found["passed"] is False and found["score"] < 70
    assert SLO_REQUIREMENT in missed(show_json(found["run_id"], data_dir))


def test_the_invented_adrs_numbers_are_visible_in_its_evidence(
    verdict: dict[str, Any], data_dir: Path
) -> None:
    doc = show_json(ladder(verdict)["invented-adr"]["run_id"], data_dir)
    record = grader(doc, "decision-record")
    reference = grader(
        show_json(check(verdict, "reference")["run_id"], data_dir), "decision-record"
    )
    assert record["score"] < reference["score"] and record["evidence"]


def test_the_ladder_lands_in_the_declared_order(verdict: dict[str, Any]) -> None:
    assert check(verdict, "order")["ok"]


@pytest.mark.parametrize("cheat", ["hidden-paths", "network", "hard-coded"])
def test_a_service_cheat_behind_the_deployment_ran_and_scored_zero(
    verdict: dict[str, Any], cheat: str
) -> None:
    found = check(verdict, cheat)
    assert not found["skipped"] and found["ok"]
    assert {"capacity", "accuracy"} <= set(found["attacked"])
    assert {o["score"] for o in found["attacked"].values()} == {0.0}
    assert found["oracle_hits"] == []


def test_a_deployment_over_the_quota_starts_nothing_scores_zero_and_does_not_pass(
    verdict: dict[str, Any], data_dir: Path
) -> None:
    found = check(verdict, "over-quota")
    assert not found["skipped"] and found["ok"] and found["passed"] is False
    assert {o["score"] for o in found["attacked"].values()} == {0.0}
    doc = show_json(found["run_id"], data_dir)
    assert "above the quota" in grader(doc, "served-auc")["summary"]


def test_the_ci_tier_leaves_the_noise_gradings_to_the_release_tier(verdict: dict[str, Any]) -> None:
    assert check(verdict, "noise")["skipped"]  # tests/release/test_gates.py grades them
