"""Comparing two submissions' fingerprints, the starter's taken out first.

A pair's score is the share of the smaller submission's fingerprints the other has too:
``shared / min(len(a), len(b))``, counting distinct hashes after the fingerprints of the run's
own starting workspace are removed (the given code and the variant's generated parts never
count). Taking the smaller side means a submission copied whole into a larger one still scores
1.0.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from itertools import combinations

from prodproven.runner.similarity.fingerprint import Mark

THRESHOLD = 0.5
"""Pairs at or above it are flagged. Half of the smaller submission's own fingerprints (each
one a run of 25 tokens with names and literals erased, the starter's taken out) found in the
other is far beyond what two people writing the same task apart share: their code agrees on
short idioms (an import block, a ``for`` header, reading the same CSV columns), which stay
under 25 tokens or fall in the starter. In the planted test
(tests/unit/test_similarity_store.py) the independent solution shares none of either copy's
104 and 109 fingerprints (0.0) and the copies, the second with its names changed and its
functions reordered, score 0.69: reordering cuts the k-grams that span a function boundary,
so a reordered copy scores below 1.0; renaming cuts none. With the starter counted, the
independent one would score 0.35 against each."""
MIN_FINGERPRINTS = 8
"""A submission with fewer fingerprints of its own (about 40 tokens: a line or two changed in
the starter) is too small to compare: any overlap would flag it."""

Fingerprints = dict[int, list[Mark]]
"""A submission's fingerprints by hash, with every place each one was found."""
Ranges = tuple[tuple[int, int], ...]


@dataclass(frozen=True)
class FileMatch:
    """The lines of file ``path_a`` of the one run and ``path_b`` of the other that share
    fingerprints, merged into ranges (1-based, inclusive)."""

    path_a: str
    path_b: str
    lines_a: Ranges
    lines_b: Ranges


@dataclass(frozen=True)
class Pair:
    run_a: str
    run_b: str
    score: float
    shared: int
    size_a: int
    size_b: int
    matches: tuple[FileMatch, ...]


def own(marks: Iterable[Mark], starter: set[int]) -> Fingerprints:
    """``marks`` by hash, without the hashes in ``starter``."""
    found: Fingerprints = defaultdict(list)
    for mark in marks:
        if mark.hash not in starter:
            found[mark.hash].append(mark)
    return dict(found)


def score(a: Fingerprints, b: Fingerprints) -> float | None:
    """Shared hashes over the smaller side's; None when a side is too small to compare."""
    smaller = min(len(a), len(b))
    if smaller < MIN_FINGERPRINTS:
        return None
    return len(a.keys() & b.keys()) / smaller


def merge(ranges: Iterable[tuple[int, int]]) -> Ranges:
    """Line ranges merged where they overlap or touch."""
    merged: list[tuple[int, int]] = []
    for first, last in sorted(ranges):
        if merged and first <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(merged[-1][1], last))
        else:
            merged.append((first, last))
    return tuple(merged)


def matches(a: Fingerprints, b: Fingerprints) -> tuple[FileMatch, ...]:
    """The matching regions of two submissions, per pair of files, largest first."""
    spans: dict[tuple[str, str], tuple[list[tuple[int, int]], list[tuple[int, int]]]] = {}
    for h in a.keys() & b.keys():
        for mark_a in a[h]:
            for mark_b in b[h]:
                side_a, side_b = spans.setdefault((mark_a.path, mark_b.path), ([], []))
                side_a.append((mark_a.first, mark_a.last))
                side_b.append((mark_b.first, mark_b.last))
    found = [
        FileMatch(path_a, path_b, merge(side_a), merge(side_b))
        for (path_a, path_b), (side_a, side_b) in spans.items()
    ]
    return tuple(sorted(found, key=lambda m: (-_lines(m.lines_a), m.path_a, m.path_b)))


def _lines(ranges: Ranges) -> int:
    return sum(last - first + 1 for first, last in ranges)


def pair(run_a: str, a: Fingerprints, run_b: str, b: Fingerprints) -> Pair | None:
    """The pair's score and matching regions; None when a side is too small to compare."""
    value = score(a, b)
    if value is None:
        return None
    shared = len(a.keys() & b.keys())
    return Pair(run_a, run_b, round(value, 3), shared, len(a), len(b), matches(a, b))


def flagged_pair(
    run_a: str, a: Fingerprints, run_b: str, b: Fingerprints, threshold: float = THRESHOLD
) -> Pair | None:
    """The pair when it scores at least ``threshold`` (its regions found only then)."""
    value = score(a, b)
    if value is None or value < threshold:
        return None
    return pair(run_a, a, run_b, b)


def flagged(runs: Mapping[str, Fingerprints], threshold: float = THRESHOLD) -> list[Pair]:
    """Every pair of ``runs`` scoring at least ``threshold``, highest first."""
    found = [
        flagged_pair(run_a, runs[run_a], run_b, runs[run_b], threshold)
        for run_a, run_b in combinations(sorted(runs), 2)
    ]
    return sorted((p for p in found if p is not None), key=lambda p: (-p.score, p.run_a, p.run_b))
