"""The on-call alert: the page a run's candidate gets when the SLO prober sees the live service
unhealthy, as a real alerting system would send it.

The rule (:func:`evaluate`, a pure function over samples) fires on the first unhealthy sample
(the SLO's health rule, ``Sample.healthy``) and resolves once the service has answered healthily
for ``resolve_after_s`` in a row (the probe's ``alert.resolve_after_s``, by default the SLO's
``stability_s``; a silence of the prober longer than ``max_gap_s`` starts the count again).
One alert is open at a time; a break after it resolved fires a new one. The page says the
symptom (the rule's summary and what the sample showed), never the fault behind it.

Everything is in the run's event log, written before anything shows it::

    alert.fired         {id, name, at, symptom}    at: the first unhealthy sample's time
    alert.resolved      {id, at}                   at: the sample that completed the streak
    alert.acknowledged  {id, at, by}               the candidate (or the operator) saw it

The supervisor checks the rule right after each poll of the prober (:class:`AlertFeed`);
its state is read back from these events, so a supervisor started after a crash goes on where
the last one stopped. Times are Unix seconds.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import select

from prodproven.graders.slo import Alert, Sample, Slo
from prodproven.runner.errors import RunStateError
from prodproven.runner.runs.prober import to_sample
from prodproven.runner.runs.store import ProbeSampleRow, Store
from prodproven.runner.spec.incidents import ProbeSpec

FIRED = "alert.fired"
RESOLVED = "alert.resolved"
ACKNOWLEDGED = "alert.acknowledged"
MAX_ERROR = 120
"""Characters of a failed probe's error kept in the symptom."""


class AlertError(RunStateError):
    """An alert that cannot be acknowledged: unknown, or already resolved."""


@dataclass(frozen=True)
class AlertRule:
    """What pages the candidate: ``summary`` is the symptom watched, ``slo`` says what is
    healthy, ``resolve_after_s`` how long health must hold to resolve."""

    name: str
    summary: str
    slo: Slo
    resolve_after_s: float

    @classmethod
    def of(cls, probe: ProbeSpec) -> AlertRule:
        return cls(
            name=probe.alert.name,
            summary=probe.alert_summary(),
            slo=probe.to_slo(),
            resolve_after_s=probe.resolve_after_s(),
        )

    def symptom(self, sample: Sample) -> str:
        """The page's text: the summary, then what ``sample`` showed (status, latency, error
        as a client saw them)."""
        latency = "" if sample.latency_ms is None else f" after {sample.latency_ms:.0f} ms"
        if sample.status is None:
            error = (sample.error or "unknown error")[:MAX_ERROR]
            seen = f"no answer{latency} ({error})"
        elif not 200 <= sample.status < 300:
            seen = f"HTTP {sample.status}{latency}"
        elif sample.latency_ms is None or sample.latency_ms > self.slo.latency_ms:
            seen = f"HTTP {sample.status}{latency}, over {self.slo.latency_ms:g} ms"
        else:
            seen = f"HTTP {sample.status}{latency} with a wrong answer"
        return f"{self.summary}. Canary saw: {seen}"


@dataclass(frozen=True)
class Watch:
    """What the rule remembers between evaluations: the open alert, since when the service has
    been healthy while it is open, the last sample evaluated and how many alerts fired."""

    open: Alert | None = None
    healthy_since: float | None = None
    last_t: float | None = None
    fired: int = 0


@dataclass(frozen=True)
class Fired:
    alert: Alert


@dataclass(frozen=True)
class Resolved:
    id: str
    at: float


Change = Fired | Resolved


def evaluate(
    rule: AlertRule, watch: Watch, samples: Iterable[Sample]
) -> tuple[Watch, list[Change]]:
    """The rule over ``samples`` newer than ``watch.last_t``, in time order: the watch after
    them and the alerts fired and resolved on the way."""
    changes: list[Change] = []
    for sample in sorted(samples, key=lambda s: s.t):
        if watch.last_t is not None and sample.t <= watch.last_t:
            continue
        healthy = sample.healthy(rule.slo)
        if watch.open is None:
            if healthy:
                watch = replace(watch, last_t=sample.t)
                continue
            number = watch.fired + 1
            alert = Alert(id=f"alert-{number}", fired_at=sample.t, symptom=rule.symptom(sample))
            changes.append(Fired(alert))
            watch = Watch(open=alert, last_t=sample.t, fired=number)
            continue
        since = watch.healthy_since
        gap = watch.last_t is not None and sample.t - watch.last_t > rule.slo.max_gap_s
        if not healthy:
            since = None
        elif since is None or gap:
            since = sample.t
        if since is not None and sample.t - since >= rule.resolve_after_s:
            changes.append(Resolved(watch.open.id, sample.t))
            watch = Watch(last_t=sample.t, fired=watch.fired)
        else:
            watch = replace(watch, healthy_since=since, last_t=sample.t)
    return watch, changes


def history(events: Iterable[tuple[str, dict[str, Any]]]) -> list[Alert]:
    """The run's alerts as its events (kind, data) tell them, in the order they fired."""
    found: dict[str, Alert] = {}
    for kind, data in events:
        if kind == FIRED:
            found[data["id"]] = Alert(
                id=data["id"], fired_at=float(data["at"]), symptom=str(data["symptom"])
            )
        elif kind in (RESOLVED, ACKNOWLEDGED) and data.get("id") in found:
            alert = found[data["id"]]
            if kind == RESOLVED:
                found[alert.id] = replace(alert, resolved_at=float(data["at"]))
            elif alert.acknowledged_at is None:
                found[alert.id] = replace(
                    alert, acknowledged_at=float(data["at"]), acknowledged_by=str(data["by"])
                )
    return list(found.values())


def watch_of(alerts: Sequence[Alert]) -> Watch:
    """Where the rule stands after ``alerts``: an open alert is watched again from its firing
    sample; otherwise from the last resolution (from the start when none fired)."""
    if not alerts:
        return Watch()
    last = alerts[-1]
    if last.resolved_at is None:
        return Watch(open=last, last_t=last.fired_at, fired=len(alerts))
    return Watch(last_t=last.resolved_at, fired=len(alerts))


def run_alerts(store: Store, run_id: str) -> list[Alert]:
    """The run's alerts, as committed so far."""
    return history((e.kind, e.data) for e in store.events(run_id) if e.kind.startswith("alert."))


def open_alert(store: Store, run_id: str) -> Alert | None:
    """The run's alert that has not resolved, if any."""
    alerts = run_alerts(store, run_id)
    return alerts[-1] if alerts and alerts[-1].resolved_at is None else None


def acknowledge(store: Store, run_id: str, alert_id: str, by: str) -> Alert:
    """Record that ``by`` saw the run's alert ``alert_id`` (once: acknowledging it again
    changes nothing). Raises AlertError for an unknown or resolved alert."""
    found = next((a for a in run_alerts(store, run_id) if a.id == alert_id), None)
    if found is None:
        raise AlertError(f"run {run_id} has no alert {alert_id!r}")
    if found.acknowledged_at is not None:
        return found
    if found.resolved_at is not None:
        raise AlertError(f"alert {alert_id} of run {run_id} has resolved; nothing to acknowledge")
    at = time.time()
    store.add_event(run_id, ACKNOWLEDGED, {"id": alert_id, "at": at, "by": by})
    return replace(found, acknowledged_at=at, acknowledged_by=by)


class AlertFeed:
    """Checks a run's rule against the samples stored since the last check and records what
    fired or resolved (the supervisor calls :meth:`check` after each poll of the prober)."""

    def __init__(self, store: Store, run_id: str, rule: AlertRule) -> None:
        self._store = store
        self._run_id = run_id
        self._rule = rule
        self._watch: Watch | None = None

    def check(self) -> list[Change]:
        """Evaluate the new samples; each change is committed as an event before it is
        returned."""
        if self._watch is None:
            self._watch = watch_of(run_alerts(self._store, self._run_id))
        watch, changes = evaluate(self._rule, self._watch, self._samples(self._watch.last_t))
        self._watch = None  # read back from the events should a write below fail
        for change in changes:
            if isinstance(change, Fired):
                alert = change.alert
                data = {"id": alert.id, "name": self._rule.name, "at": alert.fired_at}
                self._store.add_event(self._run_id, FIRED, {**data, "symptom": alert.symptom})
            else:
                self._store.add_event(self._run_id, RESOLVED, {"id": change.id, "at": change.at})
        self._watch = watch
        return changes

    def _samples(self, after: float | None) -> list[Sample]:
        query = select(ProbeSampleRow).where(ProbeSampleRow.run_id == self._run_id)
        if after is not None:
            query = query.where(ProbeSampleRow.t > after)
        with self._store.session() as s:
            return [to_sample(row) for row in s.scalars(query.order_by(ProbeSampleRow.t))]
