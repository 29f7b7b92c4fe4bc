"""The incident grader: time to mitigate each injected fault, scored on the documented curve,
with the timeline as evidence. Samples are patterns as in test_slo.py (H healthy, x HTTP 500,
s slow, - no answer), one a second from t=0."""

from __future__ import annotations

from typing import Any

import pytest

from prodproven.graders.base import GraderError
from prodproven.graders.incident import (
    MAX_SERIES,
    IncidentGrader,
    IncidentParams,
    mitigation_score,
    score_record,
)
from prodproven.graders.slo import Alert, IncidentRecord, Injection, Sample, Slo

SLO = Slo(latency_ms=200, stability_s=5, interval_s=1.0, max_gap_s=3, target=0.99)
PARAMS = IncidentParams(grace_s=5, half_life_s=60)

KINDS: dict[str, tuple[int | None, float | None, bool | None, str | None]] = {
    "H": (200, 50.0, True, None),
    "x": (500, 5.0, None, None),
    "s": (200, 900.0, True, None),
    "-": (None, None, None, "ConnectionRefusedError: refused"),
}


def samples(pattern: str, start: float = 0.0, interval: float = 1.0) -> list[Sample]:
    return [Sample(start + i * interval, *KINDS[c]) for i, c in enumerate(pattern) if c != "."]


def injection(at: float, fault: str = "error", event: str = "incident") -> Injection:
    return Injection(
        event=event, fault=fault, root_cause="config_schema_change", symptom="HTTP 500", at=at
    )


def record(
    pattern: str,
    *injected: Injection,
    missed: list[str] | None = None,
    alerts: list[Alert] | None = None,
) -> IncidentRecord:
    return IncidentRecord(
        slo=SLO,
        injections=list(injected),
        samples=samples(pattern),
        missed=missed or [],
        alerts=alerts or [],
    )


# the curve ---------------------------------------------------------------------------------


def test_never_mitigated_scores_zero() -> None:
    assert mitigation_score(None, grace_s=30, half_life_s=600) == 0.0


@pytest.mark.parametrize("ttm_s", [0.0, 12.0, 30.0])
def test_mitigating_within_the_grace_period_earns_full_credit(ttm_s: float) -> None:
    assert mitigation_score(ttm_s, grace_s=30, half_life_s=600) == 1.0


@pytest.mark.parametrize("past_grace_s,score", [(600, 0.5), (1200, 0.25), (300, 2**-0.5)])
def test_each_half_life_past_the_grace_period_halves_the_score(
    past_grace_s: int, score: float
) -> None:
    assert mitigation_score(30 + past_grace_s, grace_s=30, half_life_s=600) == pytest.approx(score)


# scoring a run -----------------------------------------------------------------------------


def test_a_run_without_injections_cannot_be_graded_and_says_why() -> None:
    missed = ["incident (error): nobody supervised the run when it was due"]
    with pytest.raises(GraderError) as info:
        score_record(record("HHHH", missed=missed), PARAMS)
    assert str(info.value) == (
        "no fault was injected in this run, so there is nothing to grade "
        "(incident (error): nobody supervised the run when it was due)"
    )


def test_a_run_with_nothing_scheduled_says_so() -> None:
    with pytest.raises(GraderError, match=r"\(nothing was scheduled\)$"):
        score_record(record("HHHH"), PARAMS)


def test_a_run_without_samples_cannot_be_graded() -> None:
    with pytest.raises(GraderError, match="the prober recorded no samples"):
        score_record(record("", injection(0)), PARAMS)


def test_a_fault_mitigated_within_grace_and_healthy_at_the_end_scores_full_marks() -> None:
    result = score_record(record("HHxxxxHHHHHHHH", injection(2)), PARAMS)  # mitigated after 4 s
    assert (result.score, result.passed) == (1.0, True)
    assert result.summary == (
        "error: mitigated 4 s after injection "
        "(SLO broke 0 s after injection; no alert fired; 4 s unhealthy; healthy at the end)"
    )


def test_a_slower_mitigation_scores_on_the_curve() -> None:
    # broken from 0 to 65: mitigated 65 s after the injection, one half-life past grace
    result = score_record(record("x" * 65 + "H" * 10, injection(0)), PARAMS)
    assert result.score == pytest.approx(0.5)
    assert result.passed is True  # pass_score 0.5 is inclusive


def test_a_fault_never_mitigated_scores_zero() -> None:
    result = score_record(record("HHxxxxxxHHH", injection(2)), PARAMS)
    assert (result.score, result.passed) == (0.0, False)
    assert result.summary.startswith("error: not mitigated (SLO broke 0 s after injection;")


def test_being_unhealthy_at_the_end_halves_the_score() -> None:
    # mitigated 2 s after the injection, broken again for the last five seconds
    result = score_record(record("HHxxHHHHHHHxxxxx", injection(2)), PARAMS)
    assert result.score == 0.5
    assert result.summary.endswith("unhealthy at the end)")


def test_the_unhealthy_end_factor_is_a_parameter() -> None:
    params = IncidentParams(grace_s=5, half_life_s=60, unhealthy_end_factor=0.2)
    assert score_record(record("HHxxHHHHHHHxxxxx", injection(2)), params).score == 0.2


def test_several_incidents_score_their_mean() -> None:
    # the first mitigated after 2 s (1.0); the second, injected at 10, after 65 s (0.5)
    first, second = injection(0, "error", "first"), injection(10, "slow", "second")
    result = score_record(record("xxHHHHHHHH" + "x" * 65 + "H" * 10, first, second), PARAMS)
    assert [i["score"] for i in result.evidence["incidents"]] == [1.0, 0.5]
    assert result.score == pytest.approx(0.75)
    assert result.summary.startswith("error: mitigated 2 s after injection (")
    assert "; slow: mitigated 65 s after injection (" in result.summary


def test_the_pass_score_is_a_parameter() -> None:
    params = IncidentParams(grace_s=5, half_life_s=60, pass_score=0.9)
    result = score_record(record("x" * 65 + "H" * 10, injection(0)), params)
    assert (round(result.score, 3), result.passed) == (0.5, False)


# evidence ----------------------------------------------------------------------------------


def test_the_evidence_describes_each_incident_relative_to_its_injection() -> None:
    result = score_record(record("HHHxxxxHHHHHHHH", injection(3)), PARAMS)
    (incident,) = result.evidence["incidents"]
    assert {k: v for k, v in incident.items() if k != "timeline"} == {
        "event": "incident",
        "fault": "error",
        "root_cause": "config_schema_change",
        "injected_at": 3,
        "broke_after_s": 0.0,
        "time_to_mitigate_s": 4.0,
        "alert": None,
        "alerted_after_s": None,
        "acknowledged_after_s": None,
        "unhealthy_s": 4.0,
        "error_budget_s": 0.15,
        "budget_burned": pytest.approx(26.667, abs=0.001),
        "healthy_at_end": True,
        "score": 1.0,
    }


def test_the_timeline_lists_every_window_relative_to_the_injection() -> None:
    result = score_record(record("HHHxxxx...HHHHHH", injection(3)), PARAMS)
    assert result.evidence["incidents"][0]["timeline"] == [
        {"start_s": -3.0, "end_s": 0.0, "healthy": True, "samples": 3, "problem": None},
        {"start_s": 0.0, "end_s": 4.0, "healthy": False, "samples": 4, "problem": "HTTP 500"},
        {"start_s": 7.0, "end_s": 13.0, "healthy": True, "samples": 6, "problem": None},
    ]


def test_the_evidence_records_the_slo_the_sample_count_and_what_was_missed() -> None:
    missed = ["other (slow): no live service"]
    result = score_record(record("HHxxHHHHHHH", injection(2), missed=missed), PARAMS)
    assert result.evidence["slo"] == {
        "latency_ms": 200,
        "stability_s": 5,
        "interval_s": 1.0,
        "target": 0.99,
    }
    assert result.evidence["samples"] == 11
    assert result.evidence["missed"] == missed


def test_a_short_series_keeps_every_sample() -> None:
    result = score_record(record("HHsx-HHHHHH", injection(2)), PARAMS)
    assert result.evidence["series"][:5] == [
        [0.0, 50.0, 200, True],
        [1.0, 50.0, 200, True],
        [2.0, 900.0, 200, False],
        [3.0, 5.0, 500, False],
        [4.0, None, None, False],
    ]
    assert len(result.evidence["series"]) == 11


def test_a_long_healthy_series_is_thinned_to_the_maximum() -> None:
    result = score_record(record("H" * 3000, injection(100)), PARAMS)
    series = result.evidence["series"]
    assert len(series) <= MAX_SERIES
    assert len(series) == 1000  # every third sample
    assert series[0][0] == 0.0 and series[-1][0] == 2997.0


def test_thinning_keeps_every_unhealthy_sample() -> None:
    pattern = "H" * 1000 + "x" * 7 + "H" * 1000 + "s" + "H" * 992  # 3000 samples
    result = score_record(record(pattern, injection(990)), PARAMS)
    unhealthy = [point[0] for point in result.evidence["series"] if not point[3]]
    assert unhealthy == [*range(1000, 1007), 2007]


# the grader --------------------------------------------------------------------------------


class IncidentEnv:
    def __init__(self, found: IncidentRecord) -> None:
        self.found = found

    def incident(self) -> IncidentRecord:
        return self.found

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"the incident grader should only read the record, not {name}")


def test_the_grader_scores_the_runs_incident_record() -> None:
    found = record("HHxxxxHHHHHHHH", injection(2))
    result = IncidentGrader().grade(IncidentEnv(found), PARAMS)
    assert result == score_record(found, PARAMS)


# the on-call alert, as evidence ------------------------------------------------------------


def paged(at: float, acked: float | None = None, resolved: float | None = None) -> Alert:
    return Alert(
        id=f"alert-{at:g}",
        fired_at=at,
        symptom="canary requests fail. Canary saw: HTTP 500 after 5 ms",
        acknowledged_at=acked,
        resolved_at=resolved,
    )


def test_the_evidence_says_when_the_injections_break_paged_and_was_acknowledged() -> None:
    alerts = [paged(3.0, acked=20.0, resolved=12.0)]
    result = score_record(record("HHHxxxxHHHHHHHH", injection(2), alerts=alerts), PARAMS)
    incident = result.evidence["incidents"][0]
    assert (incident["alert"], incident["alerted_after_s"]) == ("alert-3", 1.0)
    assert incident["acknowledged_after_s"] == 18.0
    assert "paged 1 s after injection, acknowledged after 18 s" in result.summary
    assert result.evidence["alerts"] == [
        {
            "id": "alert-3",
            "fired_at": 3.0,
            "acknowledged_at": 20.0,
            "resolved_at": 12.0,
            "symptom": "canary requests fail. Canary saw: HTTP 500 after 5 ms",
        }
    ]


def test_an_alert_never_acknowledged_has_no_acknowledgement_time() -> None:
    result = score_record(record("HHHxxxxHHHHHHHH", injection(2), alerts=[paged(3.0)]), PARAMS)
    assert result.evidence["incidents"][0]["acknowledged_after_s"] is None
    assert "paged 1 s after injection, never acknowledged" in result.summary


def test_an_alert_already_open_before_the_injection_is_not_the_injections() -> None:
    result = score_record(record("xxHxxxxHHHHHHHH", injection(2), alerts=[paged(0.0)]), PARAMS)
    incident = result.evidence["incidents"][0]
    assert incident["alert"] is incident["alerted_after_s"] is None


def test_each_injection_gets_the_alert_its_own_break_fired() -> None:
    first, second = injection(0, "error", "first"), injection(10, "slow", "second")
    alerts = [paged(0.0, acked=4.0, resolved=7.0), paged(10.0)]
    result = score_record(
        record("xxHHHHHHHH" + "x" * 5 + "H" * 10, first, second, alerts=alerts), PARAMS
    )
    found = [(i["alert"], i["acknowledged_after_s"]) for i in result.evidence["incidents"]]
    assert found == [("alert-0", 4.0), ("alert-10", None)]


def test_the_alert_does_not_change_the_score() -> None:
    pattern, fault = "HHxxxxxxxxxxHHHHHHHH", injection(2)
    quiet = score_record(record(pattern, fault), PARAMS)
    acked = score_record(record(pattern, fault, alerts=[paged(2.0, acked=3.0)]), PARAMS)
    assert (acked.score, acked.passed) == (quiet.score, quiet.passed)


def test_a_fault_that_never_broke_the_slo_says_nothing_of_alerts() -> None:
    result = score_record(record("HHHHHHHHHH", injection(2)), PARAMS)
    assert "alert" not in result.summary
