"""Comparing two submissions' fingerprints (runner/similarity/compare.py): the share of the
smaller one's found in the other, the starter's taken out first, and the matching lines merged
per pair of files."""

from __future__ import annotations

from prodproven.runner.similarity.compare import (
    MIN_FINGERPRINTS,
    FileMatch,
    flagged,
    merge,
    own,
    pair,
    score,
)
from prodproven.runner.similarity.fingerprint import Mark


def marks(hashes: range, path: str = "a.py", line: int = 1) -> list[Mark]:
    return [Mark(h, path, line + i, line + i + 2) for i, h in enumerate(hashes)]


def test_the_score_is_the_share_of_the_smaller_sides_fingerprints_found_in_the_other() -> None:
    small = own(marks(range(10)), set())
    large = own(marks(range(5, 105)), set())
    assert score(small, large) == 0.5
    assert score(large, small) == 0.5


def test_a_submission_copied_whole_into_a_larger_one_scores_one() -> None:
    assert score(own(marks(range(10)), set()), own(marks(range(100)), set())) == 1.0


def test_a_side_too_small_to_compare_has_no_score() -> None:
    tiny = own(marks(range(MIN_FINGERPRINTS - 1)), set())
    assert score(tiny, tiny) is None
    assert pair("a", tiny, "b", tiny) is None


def test_the_starters_fingerprints_never_count() -> None:
    starter = set(range(50))
    a = own(marks(range(0, 60)), starter)
    b = own(marks(range(0, 50)) + marks(range(100, 110)), starter)
    assert set(a) == set(range(50, 60))
    assert score(a, b) == 0.0


def test_matching_lines_are_merged_into_ranges_per_pair_of_files() -> None:
    a = own(marks(range(10), "x.py", 1) + marks(range(20, 30), "y.py", 100), set())
    b = own(marks(range(10), "copy.py", 50), set())
    found = pair("a", a, "b", b)
    assert found is not None and (found.shared, found.score) == (10, 1.0)
    assert found.matches == (FileMatch("x.py", "copy.py", ((1, 12),), ((50, 61),)),)


def test_ranges_merge_where_they_overlap_or_touch_and_stay_apart_otherwise() -> None:
    assert merge([(5, 7), (1, 3), (4, 4), (10, 12), (11, 20)]) == ((1, 7), (10, 20))


def test_flagged_keeps_the_pairs_at_or_above_the_threshold_highest_first() -> None:
    runs = {
        "r1": own(marks(range(20)), set()),
        "r2": own(marks(range(10, 30)), set()),
        "r3": own(marks(range(0, 20)), set()),
        "r4": own(marks(range(100, 120)), set()),
    }
    found = [(p.run_a, p.run_b, p.score) for p in flagged(runs, 0.5)]
    assert found == [("r1", "r3", 1.0), ("r1", "r2", 0.5), ("r2", "r3", 0.5)]
