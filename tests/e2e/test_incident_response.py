"""incident-response through the real CLI's gate, `challenge validate`: the reference
responder restores the service and writes a correct postmortem for every fault of the
catalogue, doing nothing lands in the starter's band, a late responder scores clearly lower,
and a postmortem written without looking is flagged."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import FIELDS, check, failures, grader, show_json, validate_json

# timing: its incident grader times the mitigation (infra/dev.sh runs it alone).
pytestmark = [pytest.mark.docker, pytest.mark.e2e, pytest.mark.timing]


@pytest.fixture(scope="module")
def verdict(data_dir: Path) -> dict[str, Any]:
    # Its runs mostly wait (for the incident, for the service to prove stable), so three at a
    # time halve the gate's 18 minutes with the same verdict (measured: 9 min).
    return validate_json("incident-response", data_dir, "--jobs", "3")


def test_the_gate_passes(verdict: dict[str, Any]) -> None:
    assert verdict["ok"], failures(verdict)


def test_the_reference_mitigates_a_bad_model_rollout_quickly(
    verdict: dict[str, Any], data_dir: Path
) -> None:
    doc = show_json(check(verdict, "reference (bad-model-rollout)")["run_id"], data_dir)
    assert doc.keys() >= FIELDS and doc["integrity"] == []
    incident = grader(doc, "incident")["evidence"]["incidents"][0]
    assert incident["fault"] == "bad-model-rollout"
    assert incident["broke_after_s"] is not None  # the prober saw the wrong answers
    assert incident["time_to_mitigate_s"] < 60 and incident["healthy_at_end"]
    assert grader(doc, "postmortem")["evidence"]["claimed"]["root_cause"] == "bad_model_rollout"


def test_doing_nothing_never_mitigates_and_writes_no_postmortem(
    verdict: dict[str, Any], data_dir: Path
) -> None:
    doc = show_json(check(verdict, "starter")["run_id"], data_dir)
    assert grader(doc, "incident")["evidence"]["incidents"][0]["time_to_mitigate_s"] is None
    assert "missing" in grader(doc, "postmortem")["summary"]


def test_a_postmortem_written_before_the_incident_is_flagged(verdict: dict[str, Any]) -> None:
    hard_coded = check(verdict, "hard-coded")
    assert hard_coded["ok"] and hard_coded["attacked"]["postmortem"]["finding"]


def test_the_service_cheats_do_not_apply_to_a_service_run_from_the_image(
    verdict: dict[str, Any],
) -> None:
    assert check(verdict, "network")["skipped"] and check(verdict, "hidden-paths")["skipped"]
