"""Reviews: notes and score overrides are appended with who and when, an override needs a
reason, and the graded result in the run is never touched; the score people see is the
newest override's, else the graded one."""

from __future__ import annotations

from typing import Any

import pytest

from prodproven.runner.errors import ReviewError, RunNotFound, RunStateError
from prodproven.runner.people.audit import Audit
from prodproven.runner.people.reviews import MAX_TEXT, Reviews
from prodproven.runner.runs.store import Run, Status, Store, utcnow

REASON = "the load test hit a noisy neighbour"
RESULT = {"score": 72.0, "graders": [{"name": "latency", "score": 60.0}]}


@pytest.fixture
def audit(store: Store) -> Audit:
    return Audit(store)


@pytest.fixture
def reviews(store: Store, audit: Audit) -> Reviews:
    return Reviews(store, audit)


def new_run(store: Store, until: Status = Status.graded, score: float = 72.0) -> Run:
    run = store.create_run(
        challenge_id="deploy-model",
        challenge_version="1.0.0",
        challenge_path="/c",
        candidate="Grace",
        mode="interactive",
    )
    path = [
        Status.provisioning,
        Status.running,
        Status.submitted,
        Status.grading,
        Status.graded,
    ]
    for status in path[: path.index(until) + 1]:
        fields: dict[str, Any] = (
            {"score": score, "result": RESULT} if status is Status.graded else {}
        )
        run = store.transition(run.id, status, **fields)
    return run


@pytest.fixture
def graded(store: Store) -> Run:
    return new_run(store)


# notes ----------------------------------------------------------------------------------------
def test_a_note_is_recorded_with_its_author_and_time(reviews: Reviews, graded: Run) -> None:
    before = utcnow()
    note = reviews.note(graded.id, "ada@firm.example", "  clean code, good tests  ")
    assert (note.kind, note.author, note.text) == (
        "note",
        "ada@firm.example",
        "clean code, good tests",
    )
    assert note.score is None
    assert note.created_at >= before
    assert reviews.for_run(graded.id) == [note]


def test_a_note_is_written_to_the_audit_log(reviews: Reviews, audit: Audit, graded: Run) -> None:
    note = reviews.note(graded.id, "ada@firm.example", "clean code")
    [entry] = audit.entries(subject=graded.id)
    assert (entry.actor, entry.action) == ("ada@firm.example", "review.note")
    assert entry.data == {"review": note.id}


def test_an_empty_note_is_refused(reviews: Reviews, graded: Run) -> None:
    with pytest.raises(ReviewError):
        reviews.note(graded.id, "ada@firm.example", "   ")


def test_a_note_or_a_reason_over_its_size_is_refused(reviews: Reviews, graded: Run) -> None:
    with pytest.raises(ReviewError, match="at most"):
        reviews.note(graded.id, "ada@firm.example", "x" * (MAX_TEXT + 1))
    with pytest.raises(ReviewError, match="at most"):
        reviews.override(graded.id, "ada@firm.example", 50, "y" * (MAX_TEXT + 1))
    assert reviews.for_run(graded.id) == []


def test_a_note_on_an_unknown_run_is_refused(reviews: Reviews) -> None:
    with pytest.raises(RunNotFound):
        reviews.note("nope", "ada@firm.example", "clean code")


def test_a_note_may_be_left_on_a_run_that_is_not_graded(store: Store, reviews: Reviews) -> None:
    run = new_run(store, until=Status.running)
    assert reviews.note(run.id, "ada@firm.example", "still working").run_id == run.id


# overrides ------------------------------------------------------------------------------------
def test_an_override_without_a_reason_is_refused(reviews: Reviews, graded: Run) -> None:
    with pytest.raises(ReviewError, match="reason"):
        reviews.override(graded.id, "ada@firm.example", 90.0, "")


def test_an_override_with_a_reason_shorter_than_10_characters_is_refused(
    reviews: Reviews, graded: Run
) -> None:
    with pytest.raises(ReviewError, match="at least 10"):
        reviews.override(graded.id, "ada@firm.example", 90.0, "   too short      ")
    assert reviews.for_run(graded.id) == []


def test_a_reason_of_exactly_10_characters_is_enough(reviews: Reviews, graded: Run) -> None:
    assert reviews.override(graded.id, "ada@firm.example", 90.0, "0123456789").score == 90.0


@pytest.mark.parametrize("score", [-0.1, 100.1, float("nan")])
def test_an_overriding_score_outside_0_to_100_is_refused(
    reviews: Reviews, graded: Run, score: float
) -> None:
    with pytest.raises(ReviewError, match="0..100"):
        reviews.override(graded.id, "ada@firm.example", score, REASON)


@pytest.mark.parametrize("score", [0.0, 100.0])
def test_the_bounds_0_and_100_are_valid_overriding_scores(
    reviews: Reviews, graded: Run, score: float
) -> None:
    assert reviews.override(graded.id, "ada@firm.example", score, REASON).score == score


@pytest.mark.parametrize("until", [Status.running, Status.submitted, Status.grading])
def test_only_graded_runs_are_overridden(store: Store, reviews: Reviews, until: Status) -> None:
    run = new_run(store, until=until)
    with pytest.raises(RunStateError, match="only graded runs"):
        reviews.override(run.id, "ada@firm.example", 90.0, REASON)


def test_an_override_is_recorded_with_its_reason_and_the_score_it_replaced(
    reviews: Reviews, graded: Run
) -> None:
    review = reviews.override(graded.id, "ada@firm.example", 88.04, REASON)
    assert review.kind == "override"
    assert review.author == "ada@firm.example"
    assert review.text == REASON
    assert review.score == 88.0  # rounded to one decimal, like graded scores
    assert review.previous_score == 72.0


def test_an_override_is_written_to_the_audit_log(
    reviews: Reviews, audit: Audit, graded: Run
) -> None:
    review = reviews.override(graded.id, "ada@firm.example", 88.0, REASON)
    [entry] = audit.entries(subject=graded.id)
    assert (entry.actor, entry.action) == ("ada@firm.example", "review.override")
    assert entry.data == {"review": review.id, "score": 88.0, "previous": 72.0, "reason": REASON}


def test_the_effective_score_is_the_graded_one_without_an_override(
    reviews: Reviews, graded: Run
) -> None:
    effective = reviews.effective(graded)
    assert (effective.score, effective.graded, effective.override) == (72.0, 72.0, None)


def test_the_effective_score_is_the_newest_override(
    store: Store, reviews: Reviews, graded: Run
) -> None:
    reviews.override(graded.id, "ada@firm.example", 80.0, REASON)
    newest = reviews.override(graded.id, "bob@firm.example", 65.0, "second look at the logs")
    effective = reviews.effective(store.get(graded.id))
    assert effective.score == 65.0
    assert effective.graded == 72.0
    assert effective.override == newest


def test_an_override_leaves_the_graded_result_of_the_run_untouched(
    store: Store, reviews: Reviews, graded: Run
) -> None:
    reviews.override(graded.id, "ada@firm.example", 95.0, REASON)
    run = store.get(graded.id)
    assert run.score == 72.0
    assert run.result == RESULT
    assert run.status is Status.graded


def test_each_override_records_the_score_it_replaced(reviews: Reviews, graded: Run) -> None:
    first = reviews.override(graded.id, "ada@firm.example", 80.0, REASON)
    second = reviews.override(graded.id, "bob@firm.example", 65.0, "second look at the logs")
    assert first.previous_score == 72.0
    assert second.previous_score == 80.0


def test_reviews_are_appended_oldest_first(reviews: Reviews, graded: Run) -> None:
    note = reviews.note(graded.id, "ada@firm.example", "clean code")
    override = reviews.override(graded.id, "ada@firm.example", 80.0, REASON)
    later = reviews.note(graded.id, "bob@firm.example", "agreed")
    assert reviews.for_run(graded.id) == [note, override, later]


def test_overrides_returns_the_newest_override_of_each_run(
    store: Store, reviews: Reviews, graded: Run
) -> None:
    other = new_run(store, score=40.0)
    untouched = new_run(store)
    reviews.override(graded.id, "ada@firm.example", 80.0, REASON)
    newest = reviews.override(graded.id, "ada@firm.example", 85.0, REASON)
    reviews.note(graded.id, "ada@firm.example", "a note is not an override")
    of_other = reviews.override(other.id, "ada@firm.example", 50.0, REASON)
    found = reviews.overrides()
    assert found == {graded.id: newest, other.id: of_other}
    assert untouched.id not in found
