"""SLO arithmetic over the prober's samples: which stretches of a run were healthy, when an
injected fault broke the service, and when it was mitigated (the first healthy stretch that
lasted the declared stability window).

Pure functions over plain data, so the ``incident`` and ``postmortem`` graders, the reports and
the tests all read one definition. Times are Unix seconds (UTC).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Slo:
    """When a sample counts as healthy, and how long health must hold to count as recovered.

    ``max_gap_s``: a silence longer than this (no samples: the prober was down) ends a window,
    because nobody saw what happened in it. ``target`` is the availability objective that sets
    the error budget.
    """

    latency_ms: float
    stability_s: float
    interval_s: float = 1.0
    max_gap_s: float = 5.0
    target: float = 0.99


@dataclass(frozen=True)
class Sample:
    """One probe: when it was sent, what came back, and whether the answer was right."""

    t: float
    status: int | None
    latency_ms: float | None
    correct: bool | None
    error: str | None = None

    def problem(self, slo: Slo) -> str | None:
        """Why this sample is unhealthy under ``slo``, or None when it is healthy."""
        if self.status is None:
            return f"no answer ({self.error or 'unknown error'})"
        if not 200 <= self.status < 300:
            return f"HTTP {self.status}"
        if self.latency_ms is None or self.latency_ms > slo.latency_ms:
            return f"slower than {slo.latency_ms:g} ms"
        if self.correct is not True:
            return "wrong answers"
        return None

    def healthy(self, slo: Slo) -> bool:
        return self.problem(slo) is None


@dataclass(frozen=True)
class Window:
    """A stretch of consecutive samples with the same health, ``start`` to ``end`` seconds."""

    start: float
    end: float
    healthy: bool
    samples: int
    problem: str | None = None
    """The most frequent reason its samples were unhealthy (None for healthy windows)."""

    @property
    def duration_s(self) -> float:
        return self.end - self.start


@dataclass(frozen=True)
class Injection:
    """A fault the runner injected: which, why it breaks things, and when it started."""

    event: str
    fault: str
    root_cause: str
    symptom: str
    at: float


@dataclass(frozen=True)
class Alert:
    """A page the run's on-call alert sent the candidate (runner/runs/alerts.py): when it fired
    (the first unhealthy sample), what it said, when the candidate acknowledged it and when
    the service had been healthy long enough to resolve it (None: not yet)."""

    id: str
    fired_at: float
    symptom: str
    acknowledged_at: float | None = None
    acknowledged_by: str | None = None
    resolved_at: float | None = None


@dataclass(frozen=True)
class IncidentRecord:
    """Everything the runner recorded about a run's incidents."""

    slo: Slo
    injections: list[Injection]
    samples: list[Sample]
    missed: list[str] = field(default_factory=list)
    """Scheduled events that never fired, with the reason."""
    alerts: list[Alert] = field(default_factory=list)
    """The pages the on-call alert sent, in the order they fired."""


@dataclass(frozen=True)
class Analysis:
    """What happened after one injection."""

    injected_at: float
    broke_at: float | None
    mitigated_at: float | None
    healthy_at_end: bool
    bad_s: float
    budget_s: float
    windows: list[Window]

    @property
    def time_to_mitigate_s(self) -> float | None:
        return None if self.mitigated_at is None else self.mitigated_at - self.injected_at

    @property
    def detected_by_prober_s(self) -> float | None:
        return None if self.broke_at is None else self.broke_at - self.injected_at

    @property
    def budget_burned(self) -> float:
        """Unhealthy time over the run's error budget (1.0: the whole budget is spent)."""
        return self.bad_s / self.budget_s if self.budget_s > 0 else 0.0


def windows(samples: Sequence[Sample], slo: Slo) -> list[Window]:
    """Group time-ordered samples into maximal windows of equal health; a gap longer than
    ``slo.max_gap_s`` starts a new window. A window ends where the next one starts, or one
    interval after its last sample when a gap or the end of the record follows."""
    ordered = sorted(samples, key=lambda s: s.t)
    found: list[Window] = []
    group: list[Sample] = []

    def close(next_t: float | None) -> None:
        if not group:
            return
        last = group[-1].t
        contiguous = next_t is not None and next_t - last <= slo.max_gap_s
        end = next_t if contiguous and next_t is not None else last + slo.interval_s
        problems = Counter(p for s in group if (p := s.problem(slo)) is not None)
        found.append(
            Window(
                start=group[0].t,
                end=end,
                healthy=not problems,
                samples=len(group),
                problem=problems.most_common(1)[0][0] if problems else None,
            )
        )
        group.clear()

    for sample in ordered:
        if group and (
            sample.healthy(slo) != group[-1].healthy(slo) or sample.t - group[-1].t > slo.max_gap_s
        ):
            close(sample.t)
        group.append(sample)
    close(None)
    return found


def analyse(record: IncidentRecord, injection: Injection, *, end_s: float = 5.0) -> Analysis:
    """Break, mitigation and error budget after ``injection``.

    Mitigated: the start of the first healthy window after the service broke that lasts at
    least ``slo.stability_s``; a service the fault never visibly broke (sampled after the
    injection) is mitigated at the injection itself. Healthy at the end: every sample in the
    last ``end_s`` seconds is.
    """
    slo = record.slo
    after = [s for s in record.samples if s.t >= injection.at]
    found = windows(after, slo)
    broke_at = next((s.t for s in sorted(after, key=lambda s: s.t) if not s.healthy(slo)), None)
    if broke_at is None:
        mitigated_at = injection.at if after else None
    else:
        mitigated_at = next(
            (
                w.start
                for w in found
                if w.healthy and w.start >= broke_at and w.duration_s >= slo.stability_s
            ),
            None,
        )
    last_t = max((s.t for s in record.samples), default=injection.at)
    tail = [s for s in record.samples if s.t > last_t - end_s]
    bad = sum(1 for s in after if not s.healthy(slo)) * slo.interval_s
    span = (last_t - min(s.t for s in record.samples)) if record.samples else 0.0
    return Analysis(
        injected_at=injection.at,
        broke_at=broke_at,
        mitigated_at=mitigated_at,
        healthy_at_end=bool(tail) and all(s.healthy(slo) for s in tail),
        bad_s=bad,
        budget_s=(1.0 - slo.target) * (span + slo.interval_s),
        windows=windows(record.samples, slo),
    )
