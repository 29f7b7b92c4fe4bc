"""The store: runs move only along allowed transitions, every move is an event, and what is
committed survives a new process opening the same database."""

from __future__ import annotations

from datetime import UTC
from pathlib import Path
from typing import Any

import pytest

from prodproven.runner.errors import RunNotFound, RunStateError
from prodproven.runner.runs.store import Run, RunChanged, Status, Store


def new_run(store: Store) -> Run:
    return store.create_run(
        challenge_id="c",
        challenge_version="1.0.0",
        challenge_path="/c",
        candidate="ada",
        mode="scripted",
    )


def test_a_new_run_is_created_with_an_event(store: Store) -> None:
    run = new_run(store)
    assert run.status is Status.created
    assert [e.kind for e in store.events(run.id)] == ["run.created"]


def test_transitions_are_recorded_in_order(store: Store) -> None:
    run = new_run(store)
    for status in (Status.provisioning, Status.running, Status.submitted):
        store.transition(run.id, status)
    kinds = [e.kind for e in store.events(run.id)]
    assert kinds == ["run.created", "status.provisioning", "status.running", "status.submitted"]


def test_a_skipped_transition_is_refused(store: Store) -> None:
    run = new_run(store)
    with pytest.raises(RunStateError, match="created; it cannot become graded"):
        store.transition(run.id, Status.graded)
    assert store.get(run.id).status is Status.created


def test_graded_runs_can_be_graded_again(store: Store) -> None:
    run = new_run(store)
    for status in (
        Status.provisioning,
        Status.running,
        Status.submitted,
        Status.grading,
        Status.graded,
        Status.grading,
    ):
        store.transition(run.id, status)
    assert store.get(run.id).status is Status.grading


def test_fields_change_with_the_transition(store: Store) -> None:
    run = new_run(store)
    store.transition(run.id, Status.errored, error="image missing")
    assert store.get(run.id).error == "image missing"
    assert store.events(run.id)[-1].data["error"] == "image missing"


def test_timestamps_come_back_timezone_aware(store: Store) -> None:
    assert new_run(store).created_at.tzinfo is UTC


def test_committed_state_survives_a_new_store_on_the_same_file(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    first = Store(url)
    run = new_run(first)
    first.transition(run.id, Status.provisioning)
    first.engine.dispose()
    assert Store(url).get(run.id).status is Status.provisioning


def test_unknown_run_is_a_clear_error(store: Store) -> None:
    with pytest.raises(RunNotFound, match="no run 'zzz'"):
        store.get("zzz")


def graded(store: Store, result: dict[str, Any]) -> str:
    run = new_run(store)
    for status in (Status.provisioning, Status.running, Status.submitted, Status.grading):
        store.transition(run.id, status)
    store.transition(run.id, Status.graded, score=result["score"], result=result)
    return run.id


def test_a_listing_without_results_keeps_only_each_runs_verdict(store: Store) -> None:
    missed = [{"name": "SLO met", "met": False, "detail": "p95 164 ms > SLO 100 ms"}]
    failed = graded(
        store,
        {"score": 40.9, "passed": False, "pass_score": 70, "requirements": missed, "graders": []},
    )
    old = graded(store, {"score": 97.0, "graders": [{"evidence": {"series": [1, 2, 3]}}]})
    listed = {run.id: run.result for run in store.list_runs(results=False)}
    assert listed[failed] == {
        "score": 40.9,
        "passed": False,
        "pass_score": 70.0,
        "requirements": missed,
    }
    assert listed[old] == {"score": 97.0, "passed": None, "pass_score": None, "requirements": None}
    full = {run.id: run.result for run in store.list_runs()}[old]
    assert full is not None and full["graders"]


def test_a_run_not_yet_graded_can_be_cancelled_and_cancelled_is_final(store: Store) -> None:
    run = store.create_run(
        challenge_id="c", challenge_version="1", challenge_path="/c", candidate="a", mode="x"
    )
    store.transition(run.id, Status.provisioning)
    cancelled = store.transition(run.id, Status.cancelled, error="the candidate withdrew")
    assert (cancelled.status, cancelled.error) == (Status.cancelled, "the candidate withdrew")
    for status in Status:
        with pytest.raises(RunStateError):
            store.transition(run.id, status)


def test_a_graded_run_cannot_be_cancelled(store: Store) -> None:
    run = store.create_run(
        challenge_id="c", challenge_version="1", challenge_path="/c", candidate="a", mode="x"
    )
    for status in (Status.provisioning, Status.running, Status.submitted, Status.grading):
        store.transition(run.id, status)
    store.transition(run.id, Status.graded)
    with pytest.raises(RunStateError, match="cannot become cancelled"):
        store.transition(run.id, Status.cancelled)


def test_a_run_is_created_under_the_id_its_starter_picked(store: Store) -> None:
    run = store.create_run(
        challenge_id="c",
        challenge_version="1",
        challenge_path="/c",
        candidate="a",
        mode="x",
        run_id="0123456789",
    )
    assert store.get("0123456789") == run


def graded_once(store: Store) -> Run:
    """A run graded at attempt 1."""
    run = new_run(store)
    for status in (Status.provisioning, Status.running, Status.submitted):
        store.transition(run.id, status)
    store.transition(run.id, Status.grading, attempt=0, grading_attempts=1)
    return store.transition(run.id, Status.graded, attempt=1, score=50.0)


def test_one_grader_wins_each_attempt(store: Store) -> None:
    run = graded_once(store)
    store.transition(run.id, Status.grading, attempt=1, grading_attempts=2)
    with pytest.raises(RunChanged, match="at grading attempt 2, not 1"):
        store.transition(run.id, Status.grading, attempt=1, grading_attempts=2)
    assert [e.kind for e in store.events(run.id)].count("status.grading") == 2


def test_a_grader_whose_attempt_was_claimed_again_cannot_record_its_result(store: Store) -> None:
    run = graded_once(store)
    store.transition(run.id, Status.grading, attempt=1, grading_attempts=2)
    with pytest.raises(RunChanged):
        store.transition(run.id, Status.graded, attempt=1, score=10.0)
    after = store.get(run.id)
    assert (after.status, after.score, after.grading_attempts) == (Status.grading, 50.0, 2)


def test_a_locked_run_is_read_and_written_in_one_transaction(store: Store) -> None:
    run = new_run(store)
    with store.locked(run.id) as (_, row):
        row.error = f"seen as {row.status}"
    assert store.get(run.id).error == "seen as created"
    with pytest.raises(RunNotFound), store.locked("nope"):
        pass


def test_claiming_grading_takes_the_next_attempt(store: Store) -> None:
    run = graded_once(store)
    claimed = store.claim_grading(run.id)
    assert (claimed.status, claimed.grading_attempts) == (Status.grading, 2)
    assert store.claim_grading(run.id).grading_attempts == 3  # a grading taken up again


def test_a_claim_answers_the_attempt_it_took_even_when_another_follows_at_once(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another grader claiming right after this claim's commit (CI caught two graders both
    told attempt 4) does not change the attempt this claim answers."""
    run = graded_once(store)
    reads = 0
    plain_get = Store.get

    def get_then_claimed_by_another(self: Store, run_id: str) -> Run:
        nonlocal reads
        reads += 1
        if reads > 1:  # any read after this claim's own first one: the other grader went first
            plain_transition(self, run_id, Status.grading, attempt=2, grading_attempts=3)
        return plain_get(self, run_id)

    plain_transition = Store.transition
    monkeypatch.setattr(Store, "get", get_then_claimed_by_another)
    assert store.claim_grading(run.id).grading_attempts == 2
