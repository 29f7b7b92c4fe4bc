"""Metrics the runner computes from sandboxed predictions."""

from __future__ import annotations

import random
import statistics

import pytest

from prodproven.graders.metrics import accuracy, auc_standard_error, roc_auc, set_f1


def test_auc_of_a_perfect_ranking_is_one() -> None:
    assert roc_auc([0, 0, 1, 1], [0.1, 0.2, 0.8, 0.9]) == 1.0


def test_auc_of_a_reversed_ranking_is_zero() -> None:
    assert roc_auc([1, 1, 0, 0], [0.1, 0.2, 0.8, 0.9]) == 0.0


def test_auc_counts_ties_as_one_half() -> None:
    assert roc_auc([0, 1], [0.5, 0.5]) == 0.5


def test_auc_matches_the_pairwise_definition() -> None:
    labels = [0, 1, 0, 1, 1, 0, 1, 0]
    scores = [0.3, 0.7, 0.7, 0.2, 0.9, 0.1, 0.5, 0.5]
    pairs = [(p, n) for p in range(8) if labels[p] for n in range(8) if not labels[n]]
    wins = sum(
        1.0 if scores[p] > scores[n] else 0.5 if scores[p] == scores[n] else 0.0 for p, n in pairs
    )
    assert roc_auc(labels, scores) == pytest.approx(wins / len(pairs))


def test_auc_needs_both_classes() -> None:
    with pytest.raises(ValueError, match="both classes"):
        roc_auc([1, 1], [0.2, 0.3])


def test_auc_refuses_mismatched_lengths() -> None:
    with pytest.raises(ValueError, match="2 labels but 1 scores"):
        roc_auc([0, 1], [0.2])


def test_accuracy_thresholds_at_one_half() -> None:
    assert accuracy([0, 1, 1, 0], [0.2, 0.5, 0.4, 0.9]) == 0.5


def test_set_f1_scores_partial_overlap() -> None:
    assert set_f1(["a", "b"], ["b", "c"]) == 0.5


def test_set_f1_of_two_empty_sets_is_one() -> None:
    assert set_f1([], []) == 1.0


def test_set_f1_ignores_duplicates_and_order() -> None:
    assert set_f1(["b", "a", "a"], ["a", "b"]) == 1.0


def test_auc_standard_error_matches_the_spread_of_simulated_aucs() -> None:
    # Hanley & McNeil's Q1 and Q2 are exact for exponential scores: positives Exp(1) against
    # negatives Exp(4) rank above them with probability 4/5, so the AUC's spread over many
    # samples of 30 positives and 70 negatives is the formula's.
    draw = random.Random(7)
    aucs = []
    for _ in range(2000):
        scores = [draw.expovariate(1) for _ in range(30)] + [draw.expovariate(4) for _ in range(70)]
        aucs.append(roc_auc([1] * 30 + [0] * 70, scores))
    assert statistics.mean(aucs) == pytest.approx(0.8, abs=0.003)
    assert statistics.stdev(aucs) == pytest.approx(auc_standard_error(0.8, 30, 70), rel=0.05)


def test_auc_standard_error_at_chance_has_a_closed_form() -> None:
    # A = 1/2 gives Q1 = Q2 = 1/3, so SE^2 = (1/4 + 2 (n - 1) / 12) / n^2 with n of each class.
    n = 50
    assert auc_standard_error(0.5, n, n) == pytest.approx(((0.25 + (n - 1) / 6) / n**2) ** 0.5)


def test_auc_standard_error_shrinks_with_the_sample_and_vanishes_at_a_perfect_ranking() -> None:
    small, large = auc_standard_error(0.8, 180, 420), auc_standard_error(0.8, 1200, 2800)
    assert (round(small, 4), round(large, 4)) == (0.0214, 0.0083)
    assert auc_standard_error(1.0, 10, 10) == 0.0


@pytest.mark.parametrize("auc,positives,negatives", [(1.2, 10, 10), (0.8, 0, 10), (0.8, 10, 0.5)])
def test_auc_standard_error_refuses_impossible_inputs(
    auc: float, positives: float, negatives: float
) -> None:
    with pytest.raises(ValueError):
        auc_standard_error(auc, positives, negatives)
