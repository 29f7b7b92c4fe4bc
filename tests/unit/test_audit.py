"""The audit log: who did what to which subject, newest first, with its data kept as given."""

from __future__ import annotations

from pathlib import Path

import pytest

from prodproven.runner.people.audit import Audit
from prodproven.runner.runs.store import Store, utcnow


@pytest.fixture
def audit(tmp_path: Path) -> Audit:
    return Audit(Store(f"sqlite:///{tmp_path}/s.db"))


def test_entries_are_listed_newest_first(audit: Audit) -> None:
    audit.record("ada", "invitation.created", "inv1")
    audit.record("ada", "invitation.revoked", "inv1")
    audit.record("bob", "review.note", "run1")
    assert [e.action for e in audit.entries()] == [
        "review.note",
        "invitation.revoked",
        "invitation.created",
    ]


def test_entries_are_filtered_by_subject(audit: Audit) -> None:
    audit.record("ada", "invitation.created", "inv1")
    audit.record("bob", "review.note", "run1")
    audit.record("bob", "review.override", "run1")
    assert [(e.actor, e.action) for e in audit.entries(subject="run1")] == [
        ("bob", "review.override"),
        ("bob", "review.note"),
    ]
    assert audit.entries(subject="nothing") == []


def test_an_entry_keeps_its_actor_time_and_data(audit: Audit) -> None:
    before = utcnow()
    data = {"score": 80.5, "reason": "flaky load test", "nested": {"a": [1, 2]}}
    audit.record("ada@firm.example", "review.override", "run1", data)
    [entry] = audit.entries()
    assert (entry.actor, entry.action, entry.subject) == (
        "ada@firm.example",
        "review.override",
        "run1",
    )
    assert entry.data == data
    assert before <= entry.at <= utcnow()


def test_an_entry_without_data_has_an_empty_dict(audit: Audit) -> None:
    audit.record("ada", "invitation.revoked", "inv1")
    assert audit.entries()[0].data == {}


def test_limit_keeps_the_newest_entries(audit: Audit) -> None:
    for i in range(5):
        audit.record("ada", f"action.{i}", "run1")
    assert [e.action for e in audit.entries(subject="run1", limit=2)] == ["action.4", "action.3"]


def test_entries_survive_a_new_audit_on_the_same_store(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path}/s.db")
    Audit(store).record("ada", "invitation.created", "inv1")
    assert [e.subject for e in Audit(Store(f"sqlite:///{tmp_path}/s.db")).entries()] == ["inv1"]
