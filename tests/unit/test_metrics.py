"""Metrics the runner computes from sandboxed predictions."""

from __future__ import annotations

import pytest

from graders.metrics import accuracy, roc_auc, set_f1


def test_auc_of_a_perfect_ranking_is_one():
    assert roc_auc([0, 0, 1, 1], [0.1, 0.2, 0.8, 0.9]) == 1.0


def test_auc_of_a_reversed_ranking_is_zero():
    assert roc_auc([1, 1, 0, 0], [0.1, 0.2, 0.8, 0.9]) == 0.0


def test_auc_counts_ties_as_one_half():
    assert roc_auc([0, 1], [0.5, 0.5]) == 0.5


def test_auc_matches_the_pairwise_definition():
    labels = [0, 1, 0, 1, 1, 0, 1, 0]
    scores = [0.3, 0.7, 0.7, 0.2, 0.9, 0.1, 0.5, 0.5]
    pairs = [(p, n) for p in range(8) if labels[p] for n in range(8) if not labels[n]]
    wins = sum(
        1.0 if scores[p] > scores[n] else 0.5 if scores[p] == scores[n] else 0.0 for p, n in pairs
    )
    assert roc_auc(labels, scores) == pytest.approx(wins / len(pairs))


def test_auc_needs_both_classes():
    with pytest.raises(ValueError, match="both classes"):
        roc_auc([1, 1], [0.2, 0.3])


def test_auc_refuses_mismatched_lengths():
    with pytest.raises(ValueError, match="2 labels but 1 scores"):
        roc_auc([0, 1], [0.2])


def test_accuracy_thresholds_at_one_half():
    assert accuracy([0, 1, 1, 0], [0.2, 0.5, 0.4, 0.9]) == 0.5


def test_set_f1_scores_partial_overlap():
    assert set_f1(["a", "b"], ["b", "c"]) == 0.5


def test_set_f1_of_two_empty_sets_is_one():
    assert set_f1([], []) == 1.0


def test_set_f1_ignores_duplicates_and_order():
    assert set_f1(["b", "a", "a"], ["a", "b"]) == 1.0
