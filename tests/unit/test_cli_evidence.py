"""``prodproven evidence expire`` (runner/cli/evidence.py): for cron and operators, with
``--days`` or the setting, ``--dry-run`` and ``--json``."""

from __future__ import annotations

import json
from pathlib import Path

from prodproven.runner.runs.store import Store
from tests.unit.test_cli import ok, prodproven
from tests.unit.test_retention import EVIDENCE, finished, left


def planted(data: Path) -> str:
    store = Store(f"sqlite:///{data / 'prodproven.db'}")
    run_id = finished(store, data, 31)
    store.engine.dispose()
    return run_id


def test_a_dry_run_lists_what_would_go_and_the_real_one_removes_it(tmp_path: Path) -> None:
    run_id = planted(tmp_path)
    doc = json.loads(ok("evidence", "expire", "--days", "30", "--dry-run", "--json", data=tmp_path))
    assert (doc["days"], doc["dry_run"]) == (30, True)
    [would] = doc["expired"]
    assert (would["run"], would["removed"]) == (run_id, EVIDENCE)
    assert set(EVIDENCE) <= set(left(tmp_path, run_id))
    shown = ok("evidence", "expire", "--days", "30", data=tmp_path)
    assert "removed the evidence of 1 run " in shown and run_id in shown
    assert left(tmp_path, run_id) == ["workspace.tar"]
    assert "removed the evidence of 0 runs" in ok(
        "evidence", "expire", "--days", "30", data=tmp_path
    )


def test_without_days_or_the_setting_nothing_is_expired_and_it_says_why(tmp_path: Path) -> None:
    run_id = planted(tmp_path)
    done = prodproven("evidence", "expire", env_dir=tmp_path)
    assert (done.returncode, done.stdout) == (0, "")
    assert "PRODPROVEN_EVIDENCE_RETENTION_DAYS is 0" in done.stderr
    assert set(EVIDENCE) <= set(left(tmp_path, run_id))


def test_zero_days_is_refused(tmp_path: Path) -> None:
    refused = prodproven("evidence", "expire", "--days", "0", env_dir=tmp_path)
    assert refused.returncode == 2 and "--days" in refused.stderr
