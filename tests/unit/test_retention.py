"""How long work-process evidence is kept (runner/runs/retention.py): with N days, the
recordings (live folder and archive) and the timeline of a finished run whose work ended more
than N days ago are deleted, after the run's event ``evidence.expired`` says what goes; the
rest of the run stays. A pass again does nothing, a pass cut short between event and deletion
is finished by the next, a dry run deletes nothing, and 0 days keeps everything. The data
directory's due work (``serve``, ``supervise --all``) does it with the setting, hourly."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest

from prodproven.runner.config import Settings
from prodproven.runner.errors import ConfigError, ProdprovenError
from prodproven.runner.lifecycle.dueloop import DueLoop
from prodproven.runner.runs import recording, retention
from prodproven.runner.runs.store import Status, Store, utcnow
from tests.unit.websupport import make_web
from tests.unit.workprocess_support import plant

NOW = utcnow()
EVIDENCE = ["recordings.tar", "recordings", "timeline"]


def finished(
    store: Store, data: Path, ended_days_ago: float, status: Status = Status.graded
) -> str:
    """A run submitted ``ended_days_ago`` days before NOW, in ``status``, with recordings
    (live and archived), a timeline, a workspace archive and a sealed timeline's event."""
    run = store.create_run(
        challenge_id="deploy-model",
        challenge_version="1",
        challenge_path="x",
        candidate="ada",
        mode="interactive",
    )
    store.update(run.id, status=status.value, submitted_at=NOW - timedelta(days=ended_days_ago))
    store.add_event(run.id, "timeline.sealed", {"sha256": "ab" * 32})
    root = data / "runs" / run.id
    plant(root)
    recording.archive(root)
    (root / "workspace.tar").write_bytes(b"the workspace")
    return run.id


def kinds(store: Store, run_id: str) -> list[str]:
    return [e.kind for e in store.events(run_id)]


def left(data: Path, run_id: str) -> list[str]:
    return sorted(p.name for p in (data / "runs" / run_id).iterdir())


def test_a_run_past_the_days_loses_its_recordings_and_timeline_and_keeps_the_rest(
    store: Store, tmp_path: Path
) -> None:
    old = finished(store, tmp_path, 31)
    recent = finished(store, tmp_path, 29)
    [expired] = retention.expire(store, tmp_path, 30, NOW)
    assert (expired.run_id, expired.removed) == (old, EVIDENCE)
    assert expired.ended == NOW - timedelta(days=31)
    assert expired.files > 3 and expired.bytes > 0
    assert left(tmp_path, old) == ["workspace.tar"]
    assert set(EVIDENCE) <= set(left(tmp_path, recent))
    event = store.events(old)[-1]
    assert (event.kind, event.at) == ("evidence.expired", NOW)
    assert event.data == {
        "ended": expired.ended.isoformat(),
        "removed": EVIDENCE,
        "files": expired.files,
        "bytes": expired.bytes,
        "days": 30,
    }
    assert "timeline.sealed" in kinds(store, old)
    assert store.get(old).status is Status.graded


def test_a_run_never_submitted_counts_from_its_cancel_and_an_unfinished_run_is_kept(
    store: Store, tmp_path: Path
) -> None:
    cancelled = finished(store, tmp_path, 0, Status.created)
    store.update(cancelled, submitted_at=None)
    store.transition(cancelled, Status.cancelled)
    running = finished(store, tmp_path, 60, Status.running)
    assert retention.expire(store, tmp_path, 30, NOW + timedelta(days=29)) == []
    [expired] = retention.expire(store, tmp_path, 30, NOW + timedelta(days=31))
    assert expired.run_id == cancelled
    assert set(EVIDENCE) <= set(left(tmp_path, running))


def test_expiring_again_does_nothing(store: Store, tmp_path: Path) -> None:
    run_id = finished(store, tmp_path, 31)
    assert len(retention.expire(store, tmp_path, 30, NOW)) == 1
    assert retention.expire(store, tmp_path, 30, NOW) == []
    assert kinds(store, run_id).count("evidence.expired") == 1


def test_a_pass_cut_short_after_its_event_is_finished_by_the_next_with_one_event(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run_id = finished(store, tmp_path, 31)

    def crash(run_id: str, paths: list[Path]) -> None:
        raise ProdprovenError("the process died")

    with monkeypatch.context() as patched:
        patched.setattr(retention, "_delete", crash)
        with pytest.raises(ProdprovenError):
            retention.expire(store, tmp_path, 30, NOW)
    assert kinds(store, run_id).count("evidence.expired") == 1
    assert set(EVIDENCE) <= set(left(tmp_path, run_id))
    [expired] = retention.expire(store, tmp_path, 30, NOW + timedelta(hours=1))
    assert expired.removed == EVIDENCE
    assert left(tmp_path, run_id) == ["workspace.tar"]
    assert kinds(store, run_id).count("evidence.expired") == 1
    assert store.events(run_id)[-1].at == NOW  # the first pass's account stands


def test_a_dry_run_says_what_would_go_and_removes_and_records_nothing(
    store: Store, tmp_path: Path
) -> None:
    run_id = finished(store, tmp_path, 31)
    [would] = retention.expire(store, tmp_path, 30, NOW, dry_run=True)
    assert would.removed == EVIDENCE
    assert set(EVIDENCE) <= set(left(tmp_path, run_id))
    assert "evidence.expired" not in kinds(store, run_id)
    assert retention.expire(store, tmp_path, 30, NOW) == [would]


def test_zero_days_keeps_everything(store: Store, tmp_path: Path) -> None:
    run_id = finished(store, tmp_path, 3650)
    assert retention.expire(store, tmp_path, 0, NOW) == []
    assert retention.Retention(store, tmp_path, 0).due() == []
    assert set(EVIDENCE) <= set(left(tmp_path, run_id))


def test_as_due_work_it_expires_at_most_once_an_hour(store: Store, tmp_path: Path) -> None:
    clock = [0.0]
    due = retention.Retention(store, tmp_path, 30, clock=lambda: clock[0]).due
    first = finished(store, tmp_path, 31)
    assert [e.run_id for e in due()] == [first]
    second = finished(store, tmp_path, 31)
    clock[0] = retention.EVERY_S - 1
    assert due() == []
    clock[0] = retention.EVERY_S
    assert [e.run_id for e in due()] == [second]


def test_the_removal_is_read_back_from_the_events() -> None:
    at = datetime(2026, 12, 1, 3, 0)
    events = [("status.graded", at, {}), ("evidence.expired", at, {"days": 30})]
    assert retention.removal(events) == retention.Removal(at, 30)
    assert retention.removal(events[:1]) is None


def test_the_setting_is_days_from_zero_and_a_negative_one_names_the_variable(
    tmp_path: Path,
) -> None:
    assert Settings.from_env({}, data_dir=tmp_path).evidence_retention_days == 0
    env = {"PRODPROVEN_EVIDENCE_RETENTION_DAYS": "90"}
    assert Settings.from_env(env, data_dir=tmp_path).evidence_retention_days == 90
    with pytest.raises(ConfigError, match="PRODPROVEN_EVIDENCE_RETENTION_DAYS"):
        Settings.from_env({"PRODPROVEN_EVIDENCE_RETENTION_DAYS": "-1"}, data_dir=tmp_path)


def test_the_data_directorys_due_work_expires_with_the_setting(tmp_path: Path) -> None:
    web = make_web(tmp_path, {"PRODPROVEN_EVIDENCE_RETENTION_DAYS": "30"})
    run_id = finished(web.portal.records.store, tmp_path, 31)
    DueLoop(web.portal.campaigns.due_work()).once()
    assert left(tmp_path, run_id) == ["workspace.tar"]
