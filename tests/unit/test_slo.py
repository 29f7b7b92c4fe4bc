"""SLO arithmetic over prober samples: when a sample is healthy, how samples group into windows,
and what ``analyse`` says happened after an injection (break, mitigation, end health, budget).

Samples are written as patterns, one character per probe interval::

    H  healthy (HTTP 200, fast, right)     x  HTTP 500
    s  slow (900 ms)                       w  wrong answer
    -  no answer (connection refused)      .  silence: the prober sent nothing
"""

from __future__ import annotations

import pytest

from prodproven.graders.slo import (
    Analysis,
    IncidentRecord,
    Injection,
    Sample,
    Slo,
    Window,
    analyse,
    windows,
)

SLO = Slo(latency_ms=200, stability_s=5, interval_s=1.0, max_gap_s=3)

KINDS: dict[str, tuple[int | None, float | None, bool | None, str | None]] = {
    "H": (200, 50.0, True, None),
    "x": (500, 5.0, None, None),
    "s": (200, 900.0, True, None),
    "w": (200, 50.0, False, None),
    "-": (None, None, None, "ConnectionRefusedError: refused"),
}


def samples(pattern: str, start: float = 0.0, interval: float = 1.0) -> list[Sample]:
    """One Sample per character of ``pattern`` (``.`` leaves a silent interval)."""
    return [
        Sample(start + i * interval, *KINDS[char]) for i, char in enumerate(pattern) if char != "."
    ]


def injected_at(at: float) -> Injection:
    return Injection(
        event="incident", fault="error", root_cause="config_schema_change", symptom="500s", at=at
    )


def analysis(pattern: str, at: float, slo: Slo = SLO, interval: float = 1.0) -> Analysis:
    record = IncidentRecord(slo=slo, injections=[], samples=samples(pattern, 0.0, interval))
    return analyse(record, injected_at(at))


def spans(found: list[Window]) -> list[tuple[float, float, bool, int]]:
    return [(w.start, w.end, w.healthy, w.samples) for w in found]


# Sample.problem ----------------------------------------------------------------------------


def test_a_fast_correct_2xx_answer_is_healthy() -> None:
    sample = Sample(t=0, status=204, latency_ms=50, correct=True)
    assert sample.problem(SLO) is None
    assert sample.healthy(SLO) is True


def test_no_answer_is_unhealthy_and_says_why() -> None:
    sample = Sample(
        t=0, status=None, latency_ms=None, correct=None, error="TimeoutError: timed out"
    )
    assert sample.problem(SLO) == "no answer (TimeoutError: timed out)"
    assert sample.healthy(SLO) is False


def test_no_answer_without_a_recorded_error_says_the_error_is_unknown() -> None:
    sample = Sample(t=0, status=None, latency_ms=3.0, correct=None)
    assert sample.problem(SLO) == "no answer (unknown error)"


@pytest.mark.parametrize("status", [199, 302, 404, 500, 503])
def test_a_status_outside_2xx_is_unhealthy(status: int) -> None:
    sample = Sample(t=0, status=status, latency_ms=5, correct=True)
    assert sample.problem(SLO) == f"HTTP {status}"


def test_an_answer_slower_than_the_slo_is_unhealthy() -> None:
    sample = Sample(t=0, status=200, latency_ms=200.5, correct=True)
    assert sample.problem(SLO) == "slower than 200 ms"


def test_an_answer_exactly_at_the_latency_limit_is_healthy() -> None:
    assert Sample(t=0, status=200, latency_ms=200.0, correct=True).healthy(SLO) is True


def test_an_answer_without_a_latency_counts_as_slow() -> None:
    sample = Sample(t=0, status=200, latency_ms=None, correct=True)
    assert sample.problem(SLO) == "slower than 200 ms"


@pytest.mark.parametrize("correct", [False, None])
def test_an_answer_not_judged_right_is_unhealthy(correct: bool | None) -> None:
    sample = Sample(t=0, status=200, latency_ms=5, correct=correct)
    assert sample.problem(SLO) == "wrong answers"


def test_an_error_status_is_reported_before_slowness_and_wrongness() -> None:
    sample = Sample(t=0, status=500, latency_ms=900, correct=False)
    assert sample.problem(SLO) == "HTTP 500"


# windows -----------------------------------------------------------------------------------


def test_no_samples_make_no_windows() -> None:
    assert windows([], SLO) == []


def test_consecutive_samples_of_equal_health_form_one_window_ending_where_the_next_begins() -> None:
    assert spans(windows(samples("HHHxxHH"), SLO)) == [
        (0.0, 3.0, True, 3),
        (3.0, 5.0, False, 2),
        (5.0, 7.0, True, 2),
    ]


def test_the_last_window_ends_one_interval_after_its_last_sample() -> None:
    slo = Slo(latency_ms=200, stability_s=5, interval_s=0.5, max_gap_s=3)
    found = windows(samples("HHHH", start=10.0, interval=0.5), slo)
    assert spans(found) == [(10.0, 12.0, True, 4)]
    assert found[0].duration_s == 2.0


def test_different_problems_form_one_unhealthy_window() -> None:
    assert spans(windows(samples("Hxsw-H"), SLO)) == [
        (0.0, 1.0, True, 1),
        (1.0, 5.0, False, 4),
        (5.0, 6.0, True, 1),
    ]


def test_a_silence_longer_than_max_gap_splits_a_window_of_equal_health() -> None:
    # samples at 0, 1, 2 and 7, 8, 9: a 5 s silence with max_gap_s 3
    assert spans(windows(samples("HHH....HHH"), SLO)) == [
        (0.0, 3.0, True, 3),
        (7.0, 10.0, True, 3),
    ]


def test_a_silence_of_exactly_max_gap_does_not_split_a_window() -> None:
    # samples at 0, 1 and 4, 5: a 3 s step with max_gap_s 3
    assert spans(windows(samples("HH..HH"), SLO)) == [(0.0, 6.0, True, 4)]


def test_a_window_followed_by_a_long_silence_ends_one_interval_after_its_last_sample() -> None:
    assert spans(windows(samples("HHxx....HH"), SLO)) == [
        (0.0, 2.0, True, 2),
        (2.0, 4.0, False, 2),
        (8.0, 10.0, True, 2),
    ]


def test_an_unhealthy_window_names_its_most_frequent_problem() -> None:
    found = windows(samples("Hxsss"), SLO)
    assert [w.problem for w in found] == [None, "slower than 200 ms"]


def test_samples_are_put_in_time_order_first() -> None:
    pattern = samples("HHxxxHH")
    assert windows(list(reversed(pattern)), SLO) == windows(pattern, SLO)


# analyse: break and mitigation -------------------------------------------------------------


def test_the_break_is_the_first_unhealthy_sample_at_or_after_the_injection() -> None:
    found = analysis("xxHHHHHxxxHHHHHHHH", at=4)
    assert found.broke_at == 7.0
    assert found.detected_by_prober_s == 3.0


def test_mitigation_is_the_start_of_the_first_healthy_window_lasting_the_stability_period() -> None:
    found = analysis("HHxxxxHHHHHHHH", at=2)
    assert found.mitigated_at == 6.0
    assert found.time_to_mitigate_s == 4.0


def test_a_healthy_window_shorter_than_the_stability_period_is_not_a_mitigation() -> None:
    # healthy 4..7 (3 s) does not hold for 5 s; healthy 9..15 does
    found = analysis("HHxxHHHxxHHHHHH", at=2)
    assert found.mitigated_at == 9.0


def test_a_healthy_window_exactly_as_long_as_the_stability_period_is_a_mitigation() -> None:
    found = analysis("xxHHHHH", at=0)  # healthy from 2 to 7
    assert found.mitigated_at == 2.0


def test_a_healthy_window_cut_short_by_a_prober_silence_is_not_a_mitigation() -> None:
    # healthy 4..7, then nobody watched for 4 s (max_gap_s 3), then healthy from 10 on
    found = analysis("HHxxHHH...HHHHHH", at=2)
    assert found.mitigated_at == 10.0
    assert analysis("HHxxHHHHHHHHHHHH", at=2).mitigated_at == 4.0


def test_a_service_still_broken_at_the_end_is_not_mitigated() -> None:
    found = analysis("HHxxxxxxxx", at=2)
    assert (found.mitigated_at, found.time_to_mitigate_s) == (None, None)
    assert found.healthy_at_end is False


def test_a_recovery_too_recent_to_have_held_is_not_a_mitigation_even_if_healthy_at_the_end() -> (
    None
):
    slo = Slo(latency_ms=200, stability_s=10, interval_s=1.0, max_gap_s=3)
    found = analysis("HHxxxxHHHHHHH", at=2, slo=slo)  # healthy 6..13: 7 s of the 10 s
    assert found.mitigated_at is None
    assert found.healthy_at_end is True


def test_a_fault_that_never_breaks_the_service_is_mitigated_at_the_injection() -> None:
    found = analysis("HHHHHHHHHHHH", at=2)
    assert found.broke_at is None
    assert found.detected_by_prober_s is None
    assert found.mitigated_at == pytest.approx(2.0, abs=SLO.interval_s)


def test_a_healthy_stretch_before_the_fault_shows_is_not_a_mitigation() -> None:
    # injected at 0, still healthy until 7 (longer than stability_s 5), broken 7..10
    found = analysis("HHHHHHHxxxHHHHHHHH", at=0)
    assert found.broke_at == 7.0
    assert found.mitigated_at == 10.0


def test_a_fault_that_never_breaks_the_service_is_mitigated_even_when_the_run_ends_soon_after() -> (
    None
):
    found = analysis("HHHHHHHH", at=5)  # only 3 healthy samples after the injection
    assert found.broke_at is None
    assert found.mitigated_at == pytest.approx(5.0, abs=SLO.interval_s)


# analyse: health at the end, unhealthy time, error budget ----------------------------------


@pytest.mark.parametrize(
    "pattern,healthy",
    [("HHHHHHH", True), ("HxHHHHH", True), ("HHxHHHH", False), ("HHHHHHx", False)],
)
def test_healthy_at_the_end_needs_every_sample_of_the_last_five_seconds_healthy(
    pattern: str, healthy: bool
) -> None:
    # the last sample is at 6 s: the last five seconds hold the samples at 2..6
    assert analysis(pattern, at=0).healthy_at_end is healthy


def test_a_record_without_samples_is_not_healthy_at_the_end() -> None:
    found = analysis("", at=0)
    assert (found.healthy_at_end, found.broke_at, found.mitigated_at) == (False, None, None)
    assert found.windows == []


def test_unhealthy_time_counts_unhealthy_samples_after_the_injection_only() -> None:
    slo = Slo(latency_ms=200, stability_s=5, interval_s=0.5, max_gap_s=3)
    found = analysis("xxHHxxxHHHHHHHHHHHH", at=1.0, slo=slo, interval=0.5)
    assert found.bad_s == 1.5


def test_the_error_budget_is_the_missed_target_over_the_recorded_span() -> None:
    found = analysis("H" * 50 + "xxx" + "H" * 47, at=10)  # 100 samples, one a second
    assert found.budget_s == pytest.approx(1.0)  # (1 - 0.99) * 100 s
    assert found.bad_s == 3.0
    assert found.budget_burned == pytest.approx(3.0)


def test_an_empty_error_budget_counts_as_nothing_burned() -> None:
    found = Analysis(
        injected_at=0,
        broke_at=None,
        mitigated_at=None,
        healthy_at_end=False,
        bad_s=4.0,
        budget_s=0.0,
        windows=[],
    )
    assert found.budget_burned == 0.0


def test_the_timeline_covers_the_whole_record_not_only_what_follows_the_injection() -> None:
    found = analysis("xxHHxxHHHHHH", at=4)
    assert spans(found.windows) == [
        (0.0, 2.0, False, 2),
        (2.0, 4.0, True, 2),
        (4.0, 6.0, False, 2),
        (6.0, 12.0, True, 6),
    ]
