"""The on-call alert (runner/runs/alerts.py): the rule as a pure function over samples, its
state read back from the run's events, acknowledging, and the feed the supervisor calls.
Samples are patterns (H healthy, x HTTP 503, s slow, w wrong answer, - no answer, . silence),
one a second from t=100."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from prodproven.graders.slo import Alert, Sample, Slo
from prodproven.runner.errors import RunStateError
from prodproven.runner.runs.alerts import (
    ACKNOWLEDGED,
    FIRED,
    RESOLVED,
    AlertError,
    AlertFeed,
    AlertRule,
    Fired,
    Resolved,
    Watch,
    acknowledge,
    evaluate,
    history,
    open_alert,
    run_alerts,
    watch_of,
)
from prodproven.runner.runs.store import Store
from prodproven.runner.spec.incidents import DEFAULT_ALERT_NAME, ProbeSpec

SLO = Slo(latency_ms=500, stability_s=60, interval_s=1.0, max_gap_s=3)
RULE = AlertRule(name="Predict failing", summary="canary requests fail", slo=SLO, resolve_after_s=5)
START = 100.0
KINDS: dict[str, tuple[int | None, float | None, bool | None, str | None]] = {
    "H": (200, 40.0, True, None),
    "x": (503, 7.0, None, "Service Unavailable"),
    "s": (200, 2300.0, True, None),
    "w": (200, 40.0, False, None),
    "-": (None, 2000.0, None, "TimeoutError: timed out"),
}


def samples(pattern: str, start: float = START) -> list[Sample]:
    return [Sample(start + i, *KINDS[c]) for i, c in enumerate(pattern) if c != "."]


def changes(pattern: str, watch: Watch | None = None) -> list[tuple[str, float]]:
    """What the rule did over the pattern: ("fired"|"resolved", seconds from START)."""
    _, found = evaluate(RULE, watch or Watch(), samples(pattern))
    return [
        ("fired", c.alert.fired_at - START) if isinstance(c, Fired) else ("resolved", c.at - START)
        for c in found
    ]


# the rule ----------------------------------------------------------------------------------
def test_a_healthy_service_pages_nobody() -> None:
    assert changes("HHHHHHHHHH") == []


def test_it_fires_on_the_first_unhealthy_sample_at_that_samples_time() -> None:
    assert changes("HHHxxxx") == [("fired", 3.0)]


@pytest.mark.parametrize("kind", ["x", "s", "w", "-"])
def test_every_kind_of_unhealthy_sample_fires_it(kind: str) -> None:
    assert changes(f"HH{kind}") == [("fired", 2.0)]


def test_it_resolves_once_healthy_for_resolve_after_s_in_a_row() -> None:
    # healthy again from 4; five seconds later (the sample at 9) it resolves
    assert changes("HHxxHHHHHHHH") == [("fired", 2.0), ("resolved", 9.0)]


def test_a_relapse_before_the_streak_completes_keeps_it_open() -> None:
    assert changes("xHHHxHHHH") == [("fired", 0.0)]


def test_a_silence_of_the_prober_starts_the_healthy_count_again() -> None:
    # healthy from 2, silent 5 s (over max_gap_s 3): counting starts again at 10
    assert changes("xxHH.....HHHHHHH") == [("fired", 0.0), ("resolved", 14.0)]


def test_one_alert_at_a_time_and_a_new_break_after_it_resolved_fires_a_new_one() -> None:
    _, found = evaluate(RULE, Watch(), samples("xxxHHHHHHxxHHHHHH"))
    assert [type(c).__name__ for c in found] == ["Fired", "Resolved", "Fired", "Resolved"]
    assert [c.alert.id for c in found if isinstance(c, Fired)] == ["alert-1", "alert-2"]


def test_samples_already_evaluated_are_skipped() -> None:
    watch, _ = evaluate(RULE, Watch(), samples("HHH"))
    assert watch.last_t == START + 2
    assert changes("xxxx", watch) == [("fired", 3.0)]  # 100 to 102 were seen healthy


def test_the_watch_carries_an_open_alert_across_evaluations() -> None:
    watch, _ = evaluate(RULE, Watch(), samples("xxHHH"))
    later, found = evaluate(RULE, watch, samples("HHH", START + 5))
    assert found == [Resolved("alert-1", START + 7)]
    assert later.open is None


# the symptom -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "kind,seen",
    [
        ("x", "HTTP 503 after 7 ms"),
        ("s", "HTTP 200 after 2300 ms, over 500 ms"),
        ("w", "HTTP 200 after 40 ms with a wrong answer"),
        ("-", "no answer after 2000 ms (TimeoutError: timed out)"),
    ],
)
def test_the_symptom_is_the_summary_and_what_the_sample_showed(kind: str, seen: str) -> None:
    (sample,) = samples(kind)
    assert RULE.symptom(sample) == f"canary requests fail. Canary saw: {seen}"


def test_the_symptom_never_holds_an_error_pages_body() -> None:
    sample = Sample(1.0, 500, 3.0, None, "Traceback: bad_model.pkl failed to load")
    assert "bad_model" not in RULE.symptom(sample)


def test_the_rule_comes_from_the_probe_with_defaults_said_from_it() -> None:
    probe = ProbeSpec.model_validate(
        {"canaries": "c.jsonl", "path": "/score", "slo": {"latency_ms": 250, "stability_s": 30}}
    )
    rule = AlertRule.of(probe)
    assert (rule.name, rule.resolve_after_s) == (DEFAULT_ALERT_NAME, 30)
    assert rule.summary == (
        "canary requests to POST /score fail, answer wrongly or take longer than 250 ms"
    )


def test_the_probes_alert_overrides_the_defaults() -> None:
    alert = {"name": "Scoring down", "summary": "scores fail or lag", "resolve_after_s": 9}
    probe = ProbeSpec.model_validate(
        {"canaries": "c.jsonl", "slo": {"latency_ms": 250}, "alert": alert}
    )
    assert AlertRule.of(probe) == AlertRule("Scoring down", "scores fail or lag", probe.to_slo(), 9)


# state from the events ---------------------------------------------------------------------
EVENTS: list[tuple[str, dict[str, Any]]] = [
    (FIRED, {"id": "alert-1", "name": "n", "at": 1.0, "symptom": "s1"}),
    (ACKNOWLEDGED, {"id": "alert-1", "at": 2.0, "by": "candidate:g@example.org"}),
    (ACKNOWLEDGED, {"id": "alert-1", "at": 3.0, "by": "cli:x"}),
    (RESOLVED, {"id": "alert-1", "at": 9.0}),
    (FIRED, {"id": "alert-2", "name": "n", "at": 20.0, "symptom": "s2"}),
]


def test_the_history_is_read_from_the_events_with_the_first_acknowledgement() -> None:
    assert history(EVENTS) == [
        Alert("alert-1", 1.0, "s1", 2.0, "candidate:g@example.org", 9.0),
        Alert("alert-2", 20.0, "s2"),
    ]


def test_an_open_alert_is_watched_again_from_its_firing_sample() -> None:
    watch = watch_of(history(EVENTS))
    assert (watch.open, watch.last_t, watch.fired) == (Alert("alert-2", 20.0, "s2"), 20.0, 2)


def test_without_an_open_alert_the_watch_goes_on_from_the_last_resolution() -> None:
    watch = watch_of(history(EVENTS[:4]))
    assert (watch.open, watch.last_t, watch.fired) == (None, 9.0, 1)
    assert watch_of([]) == Watch()


# on a store --------------------------------------------------------------------------------
@pytest.fixture
def run_id(store: Store, tmp_path: Path) -> str:
    run = store.create_run(
        challenge_id="incident-response",
        challenge_version="1.0.0",
        challenge_path=str(tmp_path),
        candidate="ada",
        mode="interactive",
    )
    return run.id


def store_samples(store: Store, run_id: str, pattern: str, start: float = START) -> None:
    rows = [
        {
            "seq": int(s.t * 1000),
            "t": s.t,
            "status": s.status,
            "latency_ms": s.latency_ms,
            "correct": s.correct,
            "error": s.error,
        }
        for s in samples(pattern, start)
    ]
    store.add_samples(run_id, rows)


def kinds(store: Store, run_id: str) -> list[str]:
    return [e.kind for e in store.events(run_id) if e.kind.startswith("alert.")]


def test_the_feed_records_what_fired_and_resolved_as_events(store: Store, run_id: str) -> None:
    feed = AlertFeed(store, run_id, RULE)
    store_samples(store, run_id, "HHxx")
    assert feed.check() == [Fired(run_alerts(store, run_id)[0])]
    [fired] = [e for e in store.events(run_id) if e.kind == FIRED]
    assert fired.data == {
        "id": "alert-1",
        "name": "Predict failing",
        "at": START + 2,
        "symptom": "canary requests fail. Canary saw: HTTP 503 after 7 ms",
    }
    store_samples(store, run_id, "HHHHHH", START + 4)
    assert feed.check() == [Resolved("alert-1", START + 9)]
    assert kinds(store, run_id) == [FIRED, RESOLVED]
    assert open_alert(store, run_id) is None


def test_a_feed_started_after_a_restart_goes_on_from_the_events(store: Store, run_id: str) -> None:
    store_samples(store, run_id, "xxHH")
    AlertFeed(store, run_id, RULE).check()
    store_samples(store, run_id, "HHHHH", START + 4)
    AlertFeed(store, run_id, RULE).check()  # the streak from 102 is counted again
    assert kinds(store, run_id) == [FIRED, RESOLVED]
    assert run_alerts(store, run_id)[0].resolved_at == START + 7


def test_checking_again_with_nothing_new_records_nothing(store: Store, run_id: str) -> None:
    feed = AlertFeed(store, run_id, RULE)
    store_samples(store, run_id, "xx")
    feed.check()
    assert feed.check() == []
    assert kinds(store, run_id) == [FIRED]


# acknowledging -----------------------------------------------------------------------------
def test_acknowledging_the_open_alert_records_when_and_by_whom(store: Store, run_id: str) -> None:
    store_samples(store, run_id, "x")
    AlertFeed(store, run_id, RULE).check()
    acked = acknowledge(store, run_id, "alert-1", "candidate:g@example.org")
    assert acked.acknowledged_by == "candidate:g@example.org"
    assert open_alert(store, run_id) == acked
    [event] = [e for e in store.events(run_id) if e.kind == ACKNOWLEDGED]
    assert event.data == {"id": "alert-1", "at": acked.acknowledged_at, "by": acked.acknowledged_by}


def test_acknowledging_twice_changes_nothing(store: Store, run_id: str) -> None:
    store_samples(store, run_id, "x")
    AlertFeed(store, run_id, RULE).check()
    first = acknowledge(store, run_id, "alert-1", "candidate:g@example.org")
    assert acknowledge(store, run_id, "alert-1", "cli:x") == first
    assert kinds(store, run_id) == [FIRED, ACKNOWLEDGED]


def test_an_unknown_or_resolved_alert_cannot_be_acknowledged(store: Store, run_id: str) -> None:
    store_samples(store, run_id, "xHHHHHH")
    AlertFeed(store, run_id, RULE).check()
    with pytest.raises(AlertError, match=f"run {run_id} has no alert 'alert-7'"):
        acknowledge(store, run_id, "alert-7", "cli:x")
    with pytest.raises(RunStateError, match="alert alert-1 of run .* has resolved"):
        acknowledge(store, run_id, "alert-1", "cli:x")
