"""The track record: recent evidence weighs more, evidence older than the validity period no
longer counts, and a competency without current evidence says when it lapsed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from runner.track_record import Evidence, level, record, standing

NOW = datetime(2026, 11, 22, tzinfo=UTC)


def months_ago(months: float) -> datetime:
    return NOW - timedelta(days=months * 30.44)


def piece(score: float, months: float, competency: str = "deployment") -> Evidence:
    return Evidence(competency, score, months_ago(months), f"run-{score}-{months}")


def test_one_fresh_run_is_the_value():
    now = standing([piece(80, 0)], NOW, months=12)
    assert now.value == pytest.approx(80) and now.level == "proficient" and now.runs == 1


def test_evidence_half_the_validity_old_counts_half_as_much():
    now = standing([piece(100, 0), piece(40, 6)], NOW, months=12)
    assert now.value == pytest.approx((1 * 100 + 0.5 * 40) / 1.5)


def test_a_recent_retake_outweighs_an_old_result():
    old_bad_new_good = standing([piece(40, 10), piece(90, 1)], NOW, months=12).value
    old_good_new_bad = standing([piece(90, 10), piece(40, 1)], NOW, months=12).value
    assert old_bad_new_good is not None and old_good_new_bad is not None
    assert old_bad_new_good > 70 > old_good_new_bad


def test_evidence_older_than_the_validity_period_does_not_count():
    now = standing([piece(95, 13), piece(60, 2)], NOW, months=12)
    assert now.runs == 1 and now.value == pytest.approx(60)


def test_without_current_evidence_the_competency_lapsed_and_says_when():
    now = standing([piece(95, 14)], NOW, months=12)
    assert now.value is None and now.level is None and now.runs == 0
    assert now.lapsed_at == months_ago(14) + timedelta(days=12 * 30.44)
    assert now.lapsed_at < NOW


def test_a_shorter_validity_setting_lapses_sooner():
    assert standing([piece(95, 4)], NOW, months=3).value is None
    assert standing([piece(95, 4)], NOW, months=6).value is not None


def test_the_history_is_the_value_right_after_each_run_per_competency():
    evidence = [
        piece(50, 8),
        piece(90, 2),
        piece(70, 2, competency="optimization"),
    ]
    found = record(evidence, NOW, months=12)
    assert sorted(found) == ["deployment", "optimization"]
    _, history = found["deployment"]
    assert [at for at, _ in history] == [months_ago(8), months_ago(2)]
    assert history[0][1] == pytest.approx(50)
    assert 50 < history[1][1] < 90


@pytest.mark.parametrize(
    ("value", "name"), [(95, "advanced"), (80, "proficient"), (55, "developing"), (10, "not shown")]
)
def test_levels_follow_the_value(value, name):
    assert level(value) == name
