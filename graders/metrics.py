"""Classification metrics computed in the runner from predictions a sandbox returned, so the
labels never enter a container that runs candidate code."""

from __future__ import annotations

import math
from collections.abc import Sequence


def roc_auc(labels: Sequence[int], scores: Sequence[float]) -> float:
    """Area under the ROC curve (ties count one half), by the rank-sum formula.

    Raises ValueError when the lengths differ or only one class is present.
    """
    if len(labels) != len(scores):
        raise ValueError(f"{len(labels)} labels but {len(scores)} scores")
    positives = sum(1 for y in labels if y == 1)
    negatives = len(labels) - positives
    if positives == 0 or negatives == 0:
        raise ValueError("AUC needs both classes among the labels")
    order = sorted(range(len(scores)), key=lambda i: scores[i])
    rank_sum, i = 0.0, 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and scores[order[j + 1]] == scores[order[i]]:
            j += 1
        mean_rank = (i + j) / 2 + 1
        rank_sum += mean_rank * sum(1 for k in order[i : j + 1] if labels[k] == 1)
        i = j + 1
    return (rank_sum - positives * (positives + 1) / 2) / (positives * negatives)


def auc_standard_error(auc: float, positives: float, negatives: float) -> float:
    """Standard error of an AUC measured on ``positives`` and ``negatives`` labelled rows
    (Hanley & McNeil 1982, Radiology 143:29-36, equation 2)::

        Q1 = A / (2 - A),  Q2 = 2 A^2 / (1 + A)
        SE = sqrt((A (1 - A) + (P - 1)(Q1 - A^2) + (N - 1)(Q2 - A^2)) / (P N))

    The counts may be fractional (expected counts of a sample of a given size and positive
    share). Raises ValueError for an AUC outside 0..1 or a class with less than one row.
    """
    if not 0.0 <= auc <= 1.0:
        raise ValueError(f"an AUC is between 0 and 1, not {auc}")
    if positives < 1 or negatives < 1:
        raise ValueError("a standard error of the AUC needs at least one row of each class")
    q1 = auc / (2 - auc)
    q2 = 2 * auc**2 / (1 + auc)
    variance = (
        auc * (1 - auc) + (positives - 1) * (q1 - auc**2) + (negatives - 1) * (q2 - auc**2)
    ) / (positives * negatives)
    return math.sqrt(max(0.0, variance))


def accuracy(labels: Sequence[int], scores: Sequence[float], threshold: float = 0.5) -> float:
    """Fraction of rows where ``score >= threshold`` agrees with the label."""
    if not labels:
        return math.nan
    hits = sum(1 for y, s in zip(labels, scores, strict=True) if (s >= threshold) == (y == 1))
    return hits / len(labels)


def set_f1(predicted: Sequence[str], truth: Sequence[str]) -> float:
    """F1 of a predicted set against a true set (1.0 when both are empty)."""
    p, t = set(predicted), set(truth)
    if not p and not t:
        return 1.0
    return 2 * len(p & t) / (len(p) + len(t))
