"""Similarity across candidates over the store (runner/similarity/store.py), and the issue's
planted test: of three submissions of one task, two near-identical (the second with its names
changed and its functions reordered) and one written apart, the pair and only the pair is
flagged. Fingerprints are computed once per archive (at grading, or when first compared) and
kept; the starter never counts; fingerprinting never fails a grading."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from prodproven.runner.grading.evaluation import Evaluation
from prodproven.runner.grading.pipeline import GradingJob, fingerprint
from prodproven.runner.runs.store import Run, Store
from prodproven.runner.similarity import store as similarity
from prodproven.runner.similarity.fingerprint import VERSION
from tests.unit.similaritysupport import (
    FIRST,
    INDEPENDENT,
    RENAMED_AND_REORDERED,
    STARTER,
    graded_with,
    write_folder,
)


@pytest.fixture
def starter(tmp_path: Path) -> similarity.Starter:
    root = write_folder(tmp_path / "starter", STARTER)
    return lambda run: (root,)


def planted(store: Store, folder: Path) -> tuple[Run, Run, Run]:
    return (
        graded_with(store, folder, "Ada", FIRST),
        graded_with(store, folder, "Bob", RENAMED_AND_REORDERED),
        graded_with(store, folder, "Cy", INDEPENDENT),
    )


def test_the_near_identical_pair_and_only_it_is_flagged(
    store: Store, tmp_path: Path, starter: similarity.Starter
) -> None:
    first, renamed, independent = planted(store, tmp_path)
    pairs = similarity.challenge_pairs(store, "slo-report", starter)
    assert [{p.run_a, p.run_b} for p in pairs] == [{first.id, renamed.id}]
    (found,) = pairs
    assert found.score >= 0.6
    assert [(m.path_a, m.path_b) for m in found.matches] == [("solution.py", "solution.py")]
    everything = similarity.challenge_pairs(store, "slo-report", starter, threshold=0.0)
    with_independent = [p for p in everything if independent.id in (p.run_a, p.run_b)]
    assert len(with_independent) == 2 and all(p.score < 0.1 for p in with_independent)


def test_the_starter_is_taken_out_before_comparing(
    store: Store, tmp_path: Path, starter: similarity.Starter
) -> None:
    """Every submission holds the given serve.py and the variant's params.py: counted, they
    would make the independent solution look like a copy."""
    _, _, independent = planted(store, tmp_path)
    kept_in = similarity.challenge_pairs(store, "slo-report", lambda run: (), threshold=0.3)
    taken_out = similarity.challenge_pairs(store, "slo-report", starter, threshold=0.3)
    assert any(independent.id in (p.run_a, p.run_b) for p in kept_in)
    assert not any(independent.id in (p.run_a, p.run_b) for p in taken_out)


def test_only_the_runs_asked_for_are_compared(
    store: Store, tmp_path: Path, starter: similarity.Starter
) -> None:
    first, _, independent = planted(store, tmp_path)
    among = {first.id, independent.id}
    assert similarity.challenge_pairs(store, "slo-report", starter, among=among) == []


def test_one_runs_pairs_name_it_first(
    store: Store, tmp_path: Path, starter: similarity.Starter
) -> None:
    first, renamed, independent = planted(store, tmp_path)
    assert [(p.run_a, p.run_b) for p in similarity.pairs_of(store, renamed, starter)] == [
        (renamed.id, first.id)
    ]
    assert similarity.pairs_of(store, independent, starter) == []


def test_fingerprints_are_kept_and_the_archive_is_not_read_again(
    store: Store, tmp_path: Path
) -> None:
    run = graded_with(store, tmp_path, "Ada", FIRST)
    computed = similarity.marks_of(store, run)
    assert run.archive_path is not None
    Path(run.archive_path).unlink()
    assert similarity.marks_of(store, run) == computed
    with store.session() as s:
        row = s.get(similarity.RunFingerprintRow, run.id)
        assert row is not None
        assert (row.challenge_id, row.version) == ("slo-report", VERSION)


def test_a_run_archived_again_is_fingerprinted_again(store: Store, tmp_path: Path) -> None:
    run = graded_with(store, tmp_path, "Ada", FIRST)
    before = {m.hash for m in similarity.marks_of(store, run)}
    store.update(run.id, status="running")  # as a run taken back before its submit
    (tmp_path / "again").mkdir()
    again = graded_with(store, tmp_path / "again", "Ada", INDEPENDENT, run=store.get(run.id))
    assert again.archive_sha256 != run.archive_sha256
    assert {m.hash for m in similarity.marks_of(store, again)} != before


def grading_job(store: Store, run: Run, tmp_path: Path, events: list[Any]) -> GradingJob:
    # the fingerprint step reads only these attributes of the plan and the job
    plan = SimpleNamespace(
        run_id=run.id, attempt=1, artifacts_dir=tmp_path / "artifacts", archive=run.archive_path
    )
    return SimpleNamespace(  # type: ignore[return-value]
        run=run,
        plan=plan,
        evaluation=Evaluation(None, plan, store),  # type: ignore[arg-type]
        event=lambda kind, data: events.append((kind, data)),
    )


def test_grading_saves_the_fingerprints_and_they_are_used_later(
    store: Store, tmp_path: Path
) -> None:
    run = graded_with(store, tmp_path, "Ada", FIRST)
    events: list[Any] = []
    fingerprint(grading_job(store, run, tmp_path, events))
    assert events == []
    assert [a.name for a in store.artifacts(run.id)] == [similarity.ARTIFACT]
    assert run.archive_path is not None
    expected = similarity.of_archive(Path(run.archive_path), run.archive_sha256 or "")
    Path(run.archive_path).unlink()  # from now on only the artifact has them
    marks = similarity.marks_of(store, run)
    assert [[m.hash, m.first, m.last] for m in marks] == [
        [h, first, last] for h, _, first, last in expected["marks"]
    ]


def test_a_failure_to_fingerprint_is_recorded_and_never_fails_the_grading(
    store: Store, tmp_path: Path
) -> None:
    run = graded_with(store, tmp_path, "Ada", FIRST)
    assert run.archive_path is not None
    Path(run.archive_path).write_bytes(b"not a tar")
    events: list[Any] = []
    fingerprint(grading_job(store, run, tmp_path, events))
    assert [kind for kind, _ in events] == ["similarity.failed"]
    assert store.artifacts(run.id) == []


def test_a_run_whose_archive_cannot_be_read_is_left_out_of_the_comparison(
    store: Store, tmp_path: Path, starter: similarity.Starter
) -> None:
    first, renamed, _ = planted(store, tmp_path)
    assert first.archive_path is not None
    Path(first.archive_path).write_bytes(b"not a tar")
    assert similarity.challenge_pairs(store, "slo-report", starter) == []
    assert similarity.pairs_of(store, renamed, starter) == []


def test_the_fingerprints_of_a_run_whose_archive_was_erased_are_deleted(
    store: Store, tmp_path: Path, starter: similarity.Starter
) -> None:
    """``candidate forget`` erases a run's archive (its path with it): its fingerprints go then
    (the forget's keeper), or at the latest at the next comparison."""
    first, renamed, _ = planted(store, tmp_path)
    similarity.challenge_pairs(store, "slo-report", starter)
    store.update(first.id, archive_path=None)
    assert similarity.pairs_of(store, renamed, starter) == []
    with store.session() as s:
        assert s.get(similarity.RunFingerprintRow, first.id) is None
        assert s.get(similarity.RunFingerprintRow, renamed.id) is not None
    assert similarity.forget_orphans(store) == 0


def test_forgetting_deletes_the_fingerprints_of_runs_whose_archive_was_erased(
    store: Store, tmp_path: Path, starter: similarity.Starter
) -> None:
    first, renamed, _ = planted(store, tmp_path)
    similarity.challenge_pairs(store, "slo-report", starter)
    store.update(first.id, archive_path=None)
    assert similarity.Forgetting(store).forget(object()) == 1
    with store.session() as s:
        assert s.get(similarity.RunFingerprintRow, first.id) is None
        assert s.get(similarity.RunFingerprintRow, renamed.id) is not None
