"""The incident sections of a challenge spec: the SLO prober, the fault catalogue and the
schedule of incidents fired while the candidate works."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field, model_validator

from prodproven.graders.slo import Slo
from prodproven.runner.spec.model import DAY_S, check_kind, twice
from prodproven.runner.spec.model import Strict as _Strict
from prodproven.sandbox.faults import FaultKind

if TYPE_CHECKING:
    from prodproven.runner.spec.parts import ServiceSpec

DEFAULT_ALERT_NAME = "Canary SLO failing"


class SloSpec(_Strict):
    """What the prober counts as healthy, and how long health must hold to count as mitigated."""

    latency_ms: float = Field(gt=0, le=60_000, description="slowest answer that is still healthy")
    stability_s: float = Field(
        60, gt=0, le=DAY_S, description="healthy this long in a row = recovered"
    )
    max_gap_s: float = Field(
        5,
        gt=0,
        le=DAY_S,
        description="a longer silence of the prober ends a window (nobody saw it)",
    )
    target: float = Field(0.99, gt=0, lt=1, description="availability objective (error budget)")


class AlertSpec(_Strict):
    """The on-call alert on the probe: it pages the candidate on the first unhealthy sample and
    resolves once the service has been healthy for ``resolve_after_s``."""

    name: str = Field(
        DEFAULT_ALERT_NAME, min_length=1, max_length=80, description="the page's title"
    )
    summary: str | None = Field(
        None,
        min_length=10,
        max_length=300,
        description="the symptom the rule watches, as the candidate sees it, never its cause "
        "(default: said from the probe, e.g. canary requests to POST /predict fail or take "
        "longer than 500 ms)",
    )
    resolve_after_s: float | None = Field(
        None,
        gt=0,
        le=DAY_S,
        description="healthy this long in a row resolves the alert (default: slo.stability_s)",
    )


class ProbeSpec(_Strict):
    """The SLO prober: one canary request to the live service every interval, the whole run."""

    method: Literal["GET", "POST"] = Field("POST", description="HTTP method of each probe")
    path: str = Field("/predict", pattern=r"^/", description="path on the service's port")
    canaries: str = Field(
        description="hidden JSON-lines file; each line {body, expect}: a request body and a "
        "JSON object the answer must contain"
    )
    interval_s: float = Field(1.0, ge=0.2, le=60, description="seconds between probes")
    timeout_s: float = Field(2.0, gt=0, le=60, description="a slower answer is a failure")
    slo: SloSpec = Field(description="what counts as healthy, and for how long")
    alert: AlertSpec = Field(
        default_factory=AlertSpec,
        description="the page sent to the candidate when the prober sees the service unhealthy",
    )

    def alert_summary(self) -> str:
        """What the alert watches: its declared summary, or one said from the probe."""
        if self.alert.summary is not None:
            return self.alert.summary
        return (
            f"canary requests to {self.method} {self.path} fail, answer wrongly or take "
            f"longer than {self.slo.latency_ms:g} ms"
        )

    def resolve_after_s(self) -> float:
        """How long the service must be healthy again before the alert resolves."""
        return self.alert.resolve_after_s or self.slo.stability_s

    def to_slo(self) -> Slo:
        return Slo(
            latency_ms=self.slo.latency_ms,
            stability_s=self.slo.stability_s,
            interval_s=self.interval_s,
            max_gap_s=self.slo.max_gap_s,
            target=self.slo.target,
        )


class FaultSpec(_Strict):
    """One fault of the challenge's catalogue."""

    name: str = Field(pattern=r"^[a-z][a-z0-9-]*$", description="unique within the challenge")
    kind: str = Field(description="fault kind, e.g. deploy (see docs/challenge-format.md)")
    root_cause: str = Field(
        pattern=r"^[a-z][a-z0-9_]*$", description="the category a correct postmortem names"
    )
    symptom: str = Field(min_length=10, description="what breaks, for assessors (not shown)")
    params: dict[str, Any] = Field(
        default_factory=dict, description="the kind's parameters, checked against its model"
    )


class TimeRange(_Strict):
    min: float = Field(ge=0, le=DAY_S, description="earliest, in seconds")
    max: float = Field(ge=0, le=DAY_S, description="latest, in seconds")

    @model_validator(mode="after")
    def _ordered(self) -> TimeRange:
        if self.min > self.max:
            raise ValueError(f"min {self.min:g} is above max {self.max:g}")
        return self


class ScheduledEvent(_Strict):
    """An incident during the run: one fault of ``inject``, drawn per run from its variant
    seed, fired at a time drawn from ``at_s`` (seconds after the clock starts)."""

    name: str = Field(pattern=r"^[a-z][a-z0-9-]*$", description="unique within the schedule")
    inject: list[str] = Field(min_length=1, description="names of faults to draw one from")
    at_s: TimeRange = Field(description="when it fires: drawn per run in this range")
    scripted_at_s: float = Field(
        20, ge=0, le=DAY_S, description="when it fires in scripted runs (`prodproven run`)"
    )
    grace_s: float = Field(
        120,
        ge=0,
        le=DAY_S,
        description="after a runner restart it still fires this late; later: missed",
    )


def check_incidents(
    service: ServiceSpec | None,
    probe: ProbeSpec | None,
    faults: Sequence[FaultSpec],
    schedule: Sequence[ScheduledEvent],
    kinds: Mapping[str, FaultKind],
) -> Iterable[str]:
    """Problems of a spec's incident sections: a probe or faults without a live service,
    incidents without a probe, names twice, unknown fault kinds and names."""
    live = service is not None and service.during_run
    for field, used in (("probe", probe is not None), ("faults", bool(faults))):
        if used and not live:
            yield f"{field}: needs a service with during_run: true to act on"
    if schedule and probe is None:
        yield "schedule: incidents need a probe to measure them"
    yield from twice("faults", [fault.name for fault in faults])
    yield from twice("schedule", [event.name for event in schedule])
    params = {name: kind.Params for name, kind in kinds.items()}
    for index, fault in enumerate(faults):
        yield from check_kind(f"faults.{index}", "fault", fault.kind, fault.params, params)
    names = {fault.name for fault in faults}
    for index, event in enumerate(schedule):
        for position, name in enumerate(event.inject):
            if name not in names:
                yield (
                    f"schedule.{index}.inject.{position}: no fault named {name!r} "
                    f"(faults: {sorted(names)})"
                )
