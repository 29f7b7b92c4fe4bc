"""The result document (runner/grading/result.py): one model for what ``--json`` prints, the
store keeps and every page reads; every field always present, null where not yet known."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from prodproven.runner.errors import ResultUnreadable
from prodproven.runner.grading.result import RESULT_FIELDS, RunResult, status_document
from prodproven.runner.runs.store import Run, Status, Store
from tests.unit.resultsupport import grader_entry

FIXTURE = Path(__file__).parent / "fixtures" / "results" / "deploy-model.json"


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store(f"sqlite:///{tmp_path}/s.db")


def new_run(store: Store) -> Run:
    return store.create_run(
        challenge_id="deploy-model",
        challenge_version="1.1.0",
        challenge_path="/challenges/deploy-model",
        candidate="ann",
        mode="scripted",
    )


def graded(store: Store, result: dict[str, Any]) -> Run:
    run = new_run(store)
    for status in (Status.provisioning, Status.running, Status.submitted, Status.grading):
        store.transition(run.id, status)
    return store.transition(run.id, Status.graded, score=result.get("score"), result=result)


def test_a_run_not_graded_yet_has_every_field_null_or_empty_where_unknown(store: Store) -> None:
    run = new_run(store)
    printed = json.loads(json.dumps(status_document(run).stored()))
    assert list(printed) == list(RESULT_FIELDS)
    assert printed["status"] == "created" and printed["challenge_version"] == "1.1.0"
    unknown = ("challenge_title", "passed", "score", "uncertainty", "formula", "attempt")
    assert [printed[f] for f in unknown] == [None] * len(unknown)
    assert (printed["requirements"], printed["graders"], printed["competencies"]) == ([], [], {})
    assert printed["created_at"] == run.created_at.isoformat()


def test_the_runs_own_state_is_current_whatever_the_stored_result_says(store: Store) -> None:
    run = graded(store, json.loads(FIXTURE.read_text()))
    doc = status_document(store.transition(run.id, Status.grading))
    assert doc.status is Status.grading and doc.run_id == run.id and doc.candidate == "ann"
    assert doc.score == json.loads(FIXTURE.read_text())["score"]


def test_a_result_stored_before_requirements_existed_reads_with_nulls(store: Store) -> None:
    doc = status_document(graded(store, json.loads(FIXTURE.read_text())))
    assert doc.passed is None and doc.requirements == [] and doc.uncertainty is None
    assert doc.graders[0].sem is None and doc.graders[0].kind == "correctness"


def test_the_stored_form_reads_back_as_the_same_document(store: Store) -> None:
    doc = status_document(graded(store, json.loads(FIXTURE.read_text())))
    assert RunResult.model_validate(doc.stored()) == doc


@pytest.mark.parametrize(
    "result",
    [
        {"graders": "nope"},
        {"graders": [None, 3, "x"]},
        {"graders": [grader_entry("load", evidence=None)]},
        {"graders": [{"name": "latency", "score": 0.6}]},
        {"score": "high"},
    ],
)
def test_a_stored_result_without_the_documents_shape_is_refused(
    store: Store, result: dict[str, Any]
) -> None:
    run = new_run(store)
    store.update(run.id, result=result)
    with pytest.raises(ResultUnreadable, match=f"the stored result of run {run.id} cannot be read"):
        status_document(store.get(run.id))


def test_a_listings_cut_down_result_reads_as_the_verdicts_fields(store: Store) -> None:
    graded(store, json.loads(FIXTURE.read_text()))
    (listed,) = store.list_runs(results=False)
    doc = status_document(listed)
    assert doc.score == json.loads(FIXTURE.read_text())["score"]
    assert (doc.passed, doc.requirements, doc.graders) == (None, [], [])
