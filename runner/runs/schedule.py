"""Scheduled incidents: which fault fires when, drawn per run from its variant seed, and the
bookkeeping that makes firing survive a runner restart.

Everything is in the run's event log, written before it is acted on::

    incident.planned    {event, fault, at, grace_s}      at start, once per scheduled event
    incident.injecting  {event, fault, late_s}           just before the fault is applied
    incident.injected   {event, fault, root_cause, symptom, at, details}
    incident.failed     {event, fault, error}            the fault could not be applied
    incident.missed     {event, fault, reason}           too late to fire after a restart

A planned event without an outcome is pending: it fires when due, or, found after a restart,
fires late within its grace period and is otherwise recorded as missed (never dropped). One
interrupted while ``injecting`` fires again: faults are deploys of fixed files, so applying
one twice leaves the same state.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from prodproven.graders.slo import IncidentRecord, Injection
from prodproven.runner.runs.alerts import run_alerts
from prodproven.runner.runs.prober import to_sample
from prodproven.runner.runs.store import Store
from prodproven.runner.spec.challenge import Challenge

DEFAULT_SEED = "default"
OUTCOMES = ("incident.injected", "incident.failed", "incident.missed")


@dataclass(frozen=True)
class Planned:
    event: str
    fault: str
    at: datetime
    grace_s: float

    def as_data(self) -> dict[str, Any]:
        return {
            "event": self.event,
            "fault": self.fault,
            "at": self.at.isoformat(),
            "grace_s": self.grace_s,
        }


class Decision(StrEnum):
    wait = "wait"
    fire = "fire"
    miss = "miss"
    done = "done"


def plan(
    challenge: Challenge,
    started: datetime,
    *,
    variant: int | None,
    scripted: bool,
    fault: str | None = None,
) -> list[Planned]:
    """The run's incidents. The fault and the time are drawn from a generator seeded with the
    challenge, the variant and the event's name (the default variant has a fixed seed);
    ``fault`` pins the fault of every event (authors and validation use it). Scripted runs
    fire at ``scripted_at_s``, with the same fault as the interactive draw."""
    if fault is not None:
        challenge.fault(fault)  # raises SpecError for an unknown name
    seed = DEFAULT_SEED if variant is None else str(variant)
    planned = []
    for event in challenge.spec.schedule:
        draw = random.Random(f"{challenge.id}/{seed}/{event.name}")
        chosen = draw.choice(event.inject)
        offset = draw.uniform(event.at_s.min, event.at_s.max)
        planned.append(
            Planned(
                event=event.name,
                fault=fault or chosen,
                at=started + timedelta(seconds=event.scripted_at_s if scripted else offset),
                grace_s=event.grace_s,
            )
        )
    return sorted(planned, key=lambda p: p.at)


def decide(outcome: str | None, due: datetime, grace_s: float, now: datetime) -> Decision:
    """What to do with one planned event at ``now``, given its recorded outcome (if any)."""
    if outcome is not None:
        return Decision.done
    if now < due:
        return Decision.wait
    if (now - due).total_seconds() <= grace_s:
        return Decision.fire
    return Decision.miss


@dataclass(frozen=True)
class EventLog:
    """The incident events of one run, as read from the store (kind, at, data)."""

    entries: Sequence[tuple[str, datetime, dict[str, Any]]]

    def planned(self) -> list[Planned]:
        return [
            Planned(
                event=data["event"],
                fault=data["fault"],
                at=datetime.fromisoformat(data["at"]),
                grace_s=float(data["grace_s"]),
            )
            for kind, _, data in self.entries
            if kind == "incident.planned"
        ]

    def outcome(self, event: str) -> str | None:
        """The kind of the event's final record (injected, failed, missed), or None."""
        found = [
            kind for kind, _, data in self.entries if kind in OUTCOMES and data["event"] == event
        ]
        return found[-1] if found else None

    def injections(self, challenge: Challenge) -> list[Injection]:
        found = []
        for kind, _, data in self.entries:
            if kind == "incident.injected":
                spec = challenge.fault(data["fault"])
                found.append(
                    Injection(
                        event=data["event"],
                        fault=spec.name,
                        root_cause=spec.root_cause,
                        symptom=spec.symptom,
                        at=float(data["at"]),
                    )
                )
        return found

    def missed(self) -> list[str]:
        """Why each planned event did not inject: missed, failed, or never due before the
        run ended."""
        reasons = [
            f"{data['event']} ({data['fault']}): {data.get('reason') or data.get('error')}"
            for kind, _, data in self.entries
            if kind in ("incident.missed", "incident.failed")
        ]
        reasons += [
            f"{p.event} ({p.fault}): the run ended before it fired (due {p.at:%H:%M:%S} UTC)"
            for p in self.planned()
            if self.outcome(p.event) is None
        ]
        return reasons


def incident_log(store: Store, run_id: str) -> EventLog:
    """The run's incident events, as committed so far."""
    return EventLog(
        [(e.kind, e.at, e.data) for e in store.events(run_id) if e.kind.startswith("incident.")]
    )


def incident_record(store: Store, run_id: str, challenge: Challenge) -> IncidentRecord | None:
    """What the run's prober, schedule and on-call alert recorded (None: the challenge has no
    probe)."""
    if challenge.spec.probe is None:
        return None
    log = incident_log(store, run_id)
    return IncidentRecord(
        slo=challenge.spec.probe.to_slo(),
        injections=log.injections(challenge),
        samples=[to_sample(row) for row in store.samples(run_id)],
        missed=log.missed(),
        alerts=run_alerts(store, run_id),
    )
