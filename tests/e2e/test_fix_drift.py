"""fix-drift through the real CLI's gate, `challenge validate`: the reference solution (a
finished notebook and a retrained model registered in the run's MLflow) lands in its band
with nothing flagged, the untouched starter in its own, and the notebook and model cheats
score 0 or are flagged."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import FIELDS, check, failures, grader, show_json, validate_json

pytestmark = [pytest.mark.docker, pytest.mark.e2e]


@pytest.fixture(scope="module")
def verdict(data_dir: Path) -> dict[str, Any]:
    # Its graders time nothing (a model's AUC, a notebook's re-executed answers; their timeouts
    # are minutes), so two runs at a time give the same verdict sooner.
    return validate_json("fix-drift", data_dir, "--jobs", "2")


def test_the_gate_passes(verdict: dict[str, Any]) -> None:
    assert verdict["ok"], failures(verdict)


def test_the_reference_is_honest_and_right(verdict: dict[str, Any], data_dir: Path) -> None:
    doc = show_json(check(verdict, "reference")["run_id"], data_dir)
    assert doc.keys() >= FIELDS and doc["integrity"] == []
    model = grader(doc, "mlflow_model")["evidence"]
    assert model["measured_auc"] > model["baseline_auc"] and model["honest"]
    assert grader(doc, "notebook")["evidence"]["expectations"][0]["score"] == 1.0


def test_the_starter_still_serves_the_old_champion(verdict: dict[str, Any], data_dir: Path) -> None:
    doc = show_json(check(verdict, "starter")["run_id"], data_dir)
    assert "still serves the old champion" in grader(doc, "mlflow_model")["summary"]


def test_forged_notebook_outputs_are_flagged(verdict: dict[str, Any]) -> None:
    forged = check(verdict, "forged-outputs")
    assert forged["ok"] and forged["attacked"]["drift-notebook"]["finding"]


def test_an_inflated_metric_on_the_old_model_scores_zero(verdict: dict[str, Any]) -> None:
    inflated = check(verdict, "inflated-metrics")
    assert inflated["ok"] and inflated["attacked"]["retrained-model"]["score"] == 0.0


@pytest.mark.parametrize("cheat", ["hidden-paths", "network"])
def test_a_notebook_looking_for_the_truth_finds_nothing(
    verdict: dict[str, Any], cheat: str
) -> None:
    found = check(verdict, cheat)
    assert found["ok"] and found["attacked"]["drift-notebook"]["score"] == 0.0
    assert found["oracle_hits"] == []
