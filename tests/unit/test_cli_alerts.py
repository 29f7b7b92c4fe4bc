"""``prodproven alerts RUN``: a run's on-call alerts for people and scripts, and ``--ack`` to
acknowledge the open one as the operator (runner/cli/alerts.py)."""

from __future__ import annotations

import json
from pathlib import Path

from prodproven.runner.runs.alerts import FIRED, RESOLVED
from prodproven.runner.runs.store import Status, Store
from tests.unit.test_cli import prodproven

SYMPTOM = "canary requests fail. Canary saw: HTTP 503 after 7 ms"


def paged_run(data: Path, *, resolved: bool = False) -> str:
    """A running run with one alert that fired at 12:00:00 UTC (resolved 30 s later)."""
    store = Store(f"sqlite:///{data / 'prodproven.db'}")
    run = store.create_run(
        challenge_id="incident-response",
        challenge_version="1.0.0",
        challenge_path="/challenges/incident-response",
        candidate="Ada",
        mode="interactive",
    )
    store.transition(run.id, Status.provisioning)
    store.transition(run.id, Status.running)
    fired = 1_767_268_800.0  # 2026-01-01 12:00:00 UTC
    store.add_event(run.id, FIRED, {"id": "alert-1", "name": "n", "at": fired, "symptom": SYMPTOM})
    if resolved:
        store.add_event(run.id, RESOLVED, {"id": "alert-1", "at": fired + 30})
    store.engine.dispose()
    return run.id


def test_it_lists_a_runs_alerts_with_the_open_one_marked(tmp_path: Path) -> None:
    run_id = paged_run(tmp_path)
    shown = prodproven("alerts", run_id, env_dir=tmp_path, columns=200)
    assert shown.returncode == 0, shown.stderr
    assert "alert-1 (open)" in shown.stdout and "12:00:00 UTC" in shown.stdout
    assert "HTTP 503 after 7 ms" in shown.stdout


def test_ack_acknowledges_the_open_alert_as_the_operator(tmp_path: Path) -> None:
    run_id = paged_run(tmp_path)
    acked = prodproven("alerts", run_id, "--ack", "--json", env_dir=tmp_path)
    assert acked.returncode == 0, acked.stderr
    doc = json.loads(acked.stdout)
    assert (doc["run"], doc["open"]) == (run_id, "alert-1")
    [alert] = doc["alerts"]
    assert alert["acknowledged_by"].startswith("cli:") and alert["acknowledged_at"] is not None
    assert alert["fired_at"] == 1_767_268_800.0 and alert["symptom"] == SYMPTOM


def test_ack_without_an_open_alert_is_one_message(tmp_path: Path) -> None:
    run_id = paged_run(tmp_path, resolved=True)
    refused = prodproven("alerts", run_id, "--ack", env_dir=tmp_path)
    assert refused.returncode == 1
    assert f"run {run_id} has no open alert to acknowledge" in refused.stderr
    listed = json.loads(prodproven("alerts", run_id, "--json", env_dir=tmp_path).stdout)
    assert listed["open"] is None and listed["alerts"][0]["resolved_at"] == 1_767_268_830.0


def test_an_unknown_run_is_not_found(tmp_path: Path) -> None:
    paged_run(tmp_path)
    missing = prodproven("alerts", "nope", env_dir=tmp_path)
    assert missing.returncode == 1 and "no run 'nope'" in missing.stderr
