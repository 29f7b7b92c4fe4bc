"""Scheduled incidents: the seeded plan of which fault fires when, the wait/fire/miss decision,
and reading the run's incident events back from the log."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from prodproven.graders.slo import Alert, Injection
from prodproven.runner.errors import SpecError
from prodproven.runner.runs.alerts import ACKNOWLEDGED, FIRED
from prodproven.runner.runs.schedule import (
    Decision,
    EventLog,
    Planned,
    decide,
    incident_log,
    incident_record,
    plan,
)
from prodproven.runner.runs.store import Store
from prodproven.runner.spec.challenge import Challenge, ChallengeSpec

LAB = Path(__file__).parents[1] / "integration" / "labs" / "slo-lab"
STARTED = datetime(2026, 11, 22, 10, 0, 0, tzinfo=UTC)
FAULTS = {"error", "slow", "wrong"}


def event(name: str = "incident", **fields: Any) -> dict[str, Any]:
    return {
        "name": name,
        "inject": ["error", "slow", "wrong"],
        "at_s": {"min": 60, "max": 600},
        "scripted_at_s": 20,
        "grace_s": 90,
        **fields,
    }


def lab(
    *events: dict[str, Any], change: Callable[[dict[str, Any]], None] | None = None
) -> Challenge:
    """The slo-lab challenge with its schedule replaced by ``events`` (one default event)."""
    spec = yaml.safe_load((LAB / "challenge.yaml").read_text())
    spec["schedule"] = list(events) or [event()]
    if change is not None:
        change(spec)
    return Challenge(spec=ChallengeSpec.model_validate(spec), root=LAB)


def seconds_after_start(planned: Planned) -> float:
    return (planned.at - STARTED).total_seconds()


# plan --------------------------------------------------------------------------------------


def test_the_plan_has_one_entry_per_scheduled_event_with_its_grace() -> None:
    found = plan(
        lab(event("first"), event("second", grace_s=30)), STARTED, variant=1, scripted=False
    )
    assert sorted((p.event, p.grace_s) for p in found) == [("first", 90), ("second", 30)]


def test_a_challenge_without_a_schedule_plans_nothing() -> None:
    challenge = lab(change=lambda spec: spec.update(schedule=[]))
    assert plan(challenge, STARTED, variant=1, scripted=False) == []


def test_the_same_variant_always_draws_the_same_fault_and_time() -> None:
    challenge = lab()
    first = plan(challenge, STARTED, variant=7, scripted=False)
    assert [plan(challenge, STARTED, variant=7, scripted=False) for _ in range(3)] == [first] * 3


def test_the_drawn_time_is_within_the_events_range() -> None:
    challenge = lab()
    times = [
        seconds_after_start(plan(challenge, STARTED, variant=v, scripted=False)[0])
        for v in range(50)
    ]
    assert all(60 <= t <= 600 for t in times)
    assert len(set(times)) > 40


def test_different_variants_draw_different_faults_and_times() -> None:
    challenge = lab()
    drawn = [plan(challenge, STARTED, variant=v, scripted=False)[0] for v in range(30)]
    assert {p.fault for p in drawn} == FAULTS
    assert len({p.at for p in drawn}) > 10


def test_the_draw_depends_on_the_challenge() -> None:
    this, other = lab(), lab(change=lambda spec: spec.update(id="other-lab"))
    pairs = [
        (
            plan(this, STARTED, variant=v, scripted=False),
            plan(other, STARTED, variant=v, scripted=False),
        )
        for v in range(10)
    ]
    assert any(a != b for a, b in pairs)


def test_each_event_draws_independently_of_the_other_events() -> None:
    alone = plan(lab(event("incident")), STARTED, variant=3, scripted=False)
    together = plan(lab(event("incident"), event("another")), STARTED, variant=3, scripted=False)
    assert [p for p in together if p.event == "incident"] == alone


def test_the_time_is_measured_from_the_start() -> None:
    challenge = lab(event(at_s={"min": 300, "max": 300}))
    (planned,) = plan(challenge, STARTED, variant=None, scripted=False)
    assert planned.at == STARTED + timedelta(seconds=300)


def test_scripted_runs_fire_at_the_scripted_time_with_the_interactive_fault() -> None:
    challenge = lab()
    for variant in [None, *range(10)]:
        (interactive,) = plan(challenge, STARTED, variant=variant, scripted=False)
        (scripted,) = plan(challenge, STARTED, variant=variant, scripted=True)
        assert scripted.at == STARTED + timedelta(seconds=20)
        assert scripted.fault == interactive.fault


def test_a_pinned_fault_replaces_every_draw_but_keeps_the_times() -> None:
    challenge = lab(event("first"), event("second"))
    drawn = plan(challenge, STARTED, variant=4, scripted=False)
    pinned = plan(challenge, STARTED, variant=4, scripted=False, fault="slow")
    assert [p.fault for p in pinned] == ["slow", "slow"]
    assert [(p.event, p.at) for p in pinned] == [(p.event, p.at) for p in drawn]


def test_pinning_an_unknown_fault_is_a_spec_error_naming_the_known_faults() -> None:
    with pytest.raises(SpecError, match=r"no fault 'oom' \(faults: \['error', 'slow', 'wrong'\]\)"):
        plan(lab(), STARTED, variant=1, scripted=False, fault="oom")


def test_events_are_planned_in_time_order() -> None:
    challenge = lab(
        event("late", at_s={"min": 500, "max": 500}),
        event("early", at_s={"min": 10, "max": 10}),
    )
    found = plan(challenge, STARTED, variant=1, scripted=False)
    assert [(p.event, seconds_after_start(p)) for p in found] == [("early", 10), ("late", 500)]


# decide ------------------------------------------------------------------------------------

DUE = STARTED + timedelta(seconds=300)


@pytest.mark.parametrize("outcome", ["incident.injected", "incident.failed", "incident.missed"])
@pytest.mark.parametrize("now", [DUE - timedelta(seconds=1), DUE, DUE + timedelta(hours=1)])
def test_an_event_with_an_outcome_is_done(outcome: str, now: datetime) -> None:
    assert decide(outcome, DUE, 60, now) is Decision.done


def test_an_event_waits_until_it_is_due() -> None:
    assert decide(None, DUE, 60, DUE - timedelta(microseconds=1)) is Decision.wait


@pytest.mark.parametrize("late_s", [0, 30, 60])
def test_an_event_fires_from_when_it_is_due_to_the_end_of_its_grace(late_s: int) -> None:
    assert decide(None, DUE, 60, DUE + timedelta(seconds=late_s)) is Decision.fire


def test_an_event_later_than_its_grace_is_missed() -> None:
    assert decide(None, DUE, 60, DUE + timedelta(seconds=60, milliseconds=1)) is Decision.miss


def test_without_grace_an_event_fires_only_when_exactly_due() -> None:
    assert decide(None, DUE, 0, DUE) is Decision.fire
    assert decide(None, DUE, 0, DUE + timedelta(milliseconds=1)) is Decision.miss


# EventLog ----------------------------------------------------------------------------------


def log(*entries: tuple[str, dict[str, Any]]) -> EventLog:
    return EventLog([(kind, STARTED, data) for kind, data in entries])


def test_planned_events_read_back_from_the_log_as_they_were_planned() -> None:
    planned = plan(lab(event("first"), event("second")), STARTED, variant=2, scripted=False)
    entries: list[tuple[str, dict[str, Any]]] = [("run.created", {})] + [
        ("incident.planned", p.as_data()) for p in planned
    ]
    assert log(*entries).planned() == planned


def test_an_event_without_an_outcome_is_pending_even_while_injecting() -> None:
    events = log(
        ("incident.planned", {"event": "incident", "fault": "error", "at": "x", "grace_s": 9}),
        ("incident.injecting", {"event": "incident", "fault": "error", "late_s": 0.1}),
    )
    assert events.outcome("incident") is None


def test_the_outcome_is_the_kind_of_the_events_last_outcome_record() -> None:
    events = log(
        ("incident.failed", {"event": "incident", "fault": "error", "error": "gone"}),
        ("incident.injected", {"event": "incident", "fault": "error", "at": 1.0}),
        ("incident.missed", {"event": "other", "fault": "slow", "reason": "late"}),
    )
    assert events.outcome("incident") == "incident.injected"
    assert events.outcome("other") == "incident.missed"
    assert events.outcome("third") is None


def test_injections_take_the_root_cause_and_symptom_from_the_challenges_fault() -> None:
    events = log(
        ("incident.injecting", {"event": "incident", "fault": "slow", "late_s": 0.0}),
        ("incident.injected", {"event": "incident", "fault": "slow", "at": 1764000123.5}),
        ("incident.failed", {"event": "other", "fault": "error", "error": "gone"}),
    )
    assert events.injections(lab()) == [
        Injection(
            event="incident",
            fault="slow",
            root_cause="latency_regression",
            symptom="every request takes 400 ms",
            at=1764000123.5,
        )
    ]


def test_missed_and_failed_events_are_listed_with_their_reason() -> None:
    events = log(
        ("incident.missed", {"event": "incident", "fault": "error", "reason": "200 s late"}),
        ("incident.injected", {"event": "third", "fault": "wrong", "at": 5.0}),
        ("incident.failed", {"event": "other", "fault": "slow", "error": "no live service"}),
    )
    assert events.missed() == [
        "incident (error): 200 s late",
        "other (slow): no live service",
    ]


def test_a_planned_event_that_never_fired_is_listed_as_not_fired_before_the_end() -> None:
    due = STARTED + timedelta(minutes=10)
    planned = Planned(event="incident", fault="slow", at=due, grace_s=120)
    events = log(("incident.planned", planned.as_data()))
    assert events.missed() == ["incident (slow): the run ended before it fired (due 10:10:00 UTC)"]


def test_the_runs_incident_log_holds_only_its_incident_events_in_order(store: Store) -> None:
    run = store.create_run(
        challenge_id="slo-lab", challenge_version="1", challenge_path="/x", candidate="a", mode="x"
    )
    planned = Planned(event="incident", fault="slow", at=STARTED, grace_s=120)
    store.add_event(run.id, "incident.planned", planned.as_data())
    store.add_event(run.id, "port.declared", {"name": "service", "port": 8000})
    store.add_event(run.id, "incident.missed", {"event": "incident", "fault": "slow"})
    found = incident_log(store, run.id)
    assert [kind for kind, _, _ in found.entries] == ["incident.planned", "incident.missed"]
    assert found.planned() == [planned] and found.outcome("incident") == "incident.missed"


def test_the_incident_record_has_the_slo_and_what_the_log_says(store: Store) -> None:
    run = store.create_run(
        challenge_id="slo-lab", challenge_version="1", challenge_path="/x", candidate="a", mode="x"
    )
    challenge = lab()
    planned = Planned(event="incident", fault="slow", at=STARTED, grace_s=120)
    store.add_event(run.id, "incident.planned", planned.as_data())
    record = incident_record(store, run.id, challenge)
    assert record is not None and challenge.spec.probe is not None
    assert record.slo == challenge.spec.probe.to_slo()
    assert (record.injections, record.samples) == ([], [])
    assert record.missed == incident_log(store, run.id).missed()


def test_the_incident_record_carries_the_runs_alerts(store: Store) -> None:
    run = store.create_run(
        challenge_id="slo-lab", challenge_version="1", challenge_path="/x", candidate="a", mode="x"
    )
    fired = {"id": "alert-1", "name": "n", "at": 5.0, "symptom": "canary requests fail"}
    store.add_event(run.id, FIRED, fired)
    store.add_event(run.id, ACKNOWLEDGED, {"id": "alert-1", "at": 9.0, "by": "candidate:c"})
    record = incident_record(store, run.id, lab())
    assert record is not None
    assert record.alerts == [Alert("alert-1", 5.0, "canary requests fail", 9.0, "candidate:c")]


def test_a_challenge_without_a_probe_has_no_incident_record(store: Store) -> None:
    run = store.create_run(
        challenge_id="slo-lab", challenge_version="1", challenge_path="/x", candidate="a", mode="x"
    )
    assert incident_record(store, run.id, lab(change=lambda spec: spec.pop("probe"))) is None
