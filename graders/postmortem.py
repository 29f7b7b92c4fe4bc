"""The ``postmortem`` grader: the candidate's write-up, checked against what really happened.

``postmortem.md`` starts with YAML front matter (``root_cause``, ``detected_at``,
``mitigated_at``) and has the sections Summary, Timeline, Root cause, Mitigation and
Prevention. The score adds four parts::

    sections    0.25  each required section present and not empty
    root cause  0.35  the category names the injected fault's root cause
    timeline    0.25  detected_at not before the fault (give or take clock_tolerance_s: how
                      late someone noticed cannot be checked, so it is not); mitigated_at
                      within tolerance_s of the prober's mitigation (or null when the prober
                      saw none); half each
    prevention  0.15  at least min_prevention_items list items under Prevention (half for one)

A missing file or unreadable front matter scores 0 with the reason. A detection before the
fault existed, or a mitigation the prober never saw, is also an integrity finding.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from pydantic import Field

from prodproven.graders.base import (
    Condition,
    EvaluationEnvironment,
    Finding,
    Grader,
    GradeResult,
    Params,
    Verdict,
)
from prodproven.graders.frontmatter import (
    Document,
    DocumentInvalid,
    norm,
    parse_document,
    read_document,
    zero_because,
)
from prodproven.graders.slo import IncidentRecord, analyse

WEIGHTS = {"sections": 0.25, "root_cause": 0.35, "timeline": 0.25, "prevention": 0.15}
REQUIRED_KEYS = ("root_cause", "detected_at", "mitigated_at")
_LIST_ITEM = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+\S")
_DATE_ONLY = re.compile(r"^\d{4}-?\d{2}-?\d{2}$")


class PostmortemParams(Params):
    path: str = Field("postmortem.md", description="file in the workspace")
    categories: list[str] = Field(min_length=1, description="allowed root_cause values")
    sections: list[str] = Field(
        default_factory=lambda: ["Summary", "Timeline", "Root cause", "Mitigation", "Prevention"],
        description="headings that must be present (any level, case-insensitive)",
    )
    tolerance_s: float = Field(
        180, ge=0, description="how far mitigated_at may be from the prober's mitigation"
    )
    clock_tolerance_s: float = Field(
        60,
        ge=0,
        description="how far before the injection detected_at may be (clocks, times rounded "
        "to the minute)",
    )
    min_prevention_items: int = Field(2, ge=1, description="list items wanted under Prevention")
    pass_score: float = Field(0.7, ge=0, le=1, description="score that counts as passed")


class PostmortemInvalid(DocumentInvalid):
    """The postmortem cannot be read as the brief asks."""


@dataclass(frozen=True)
class Postmortem(Document):
    def timestamp(self, key: str) -> float | None:
        """The front matter's ``key`` as Unix seconds (null: None). Raises PostmortemInvalid."""
        return _epoch(key, self.front.get(key))


def parse(text: str) -> Postmortem:
    """Split front matter and sections. Raises PostmortemInvalid saying what is wrong."""
    try:
        document = parse_document(text, required=REQUIRED_KEYS)
    except DocumentInvalid as exc:
        raise PostmortemInvalid(str(exc)) from None
    postmortem = Postmortem(document.front, document.sections)
    for key in ("detected_at", "mitigated_at"):
        postmortem.timestamp(key)
    return postmortem


def _epoch(key: str, value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, date) or _DATE_ONLY.match(str(value).strip()):
        raise PostmortemInvalid(f"{key}: {value} is a date; a time is needed")
    else:
        try:
            moment = datetime.fromisoformat(str(value).strip())
        except ValueError:
            raise PostmortemInvalid(
                f"{key}: {value!r} is not an ISO 8601 time like 2026-11-22T10:15:03Z"
            ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


class PostmortemGrader(Grader[PostmortemParams]):
    kind = "postmortem"
    description = "Checks the postmortem's root cause and timeline against the prober's record."
    Params = PostmortemParams
    conditions = {
        "root_cause": Condition[PostmortemParams](
            "the postmortem's root_cause is the category of the fault really injected",
            lambda result, params: root_cause_named(result),
        )
    }

    def grade(self, env: EvaluationEnvironment, params: PostmortemParams) -> GradeResult:
        record = env.incident()
        try:
            postmortem = read_document(env, params.path, parse)
        except DocumentInvalid as exc:
            return zero_because(str(exc))
        return score_postmortem(postmortem, record, params)


def score_postmortem(
    postmortem: Postmortem, record: IncidentRecord, params: PostmortemParams
) -> GradeResult:
    if not record.injections:
        return zero_because("no fault was injected in this run, so no postmortem can be checked")
    injection = record.injections[0]
    found = analyse(record, injection)
    tol = params.tolerance_s
    notes: list[str] = []
    findings: list[Finding] = []

    present = [s for s in params.sections if postmortem.sections.get(norm(s))]
    absent = [s for s in params.sections if s not in present]
    if absent:
        notes.append(f"missing or empty sections: {', '.join(absent)}")
    sections = len(present) / len(params.sections)

    claimed = str(postmortem.front.get("root_cause", "")).strip()
    if claimed not in params.categories:
        notes.append(f"root_cause {claimed!r} is not one of {params.categories}")
    elif claimed != injection.root_cause:
        notes.append(f"root_cause {claimed!r} does not match what was injected")
    root_cause = 1.0 if claimed == injection.root_cause else 0.0

    detected = postmortem.timestamp("detected_at")
    mitigated = postmortem.timestamp("mitigated_at")
    earliest = injection.at - params.clock_tolerance_s
    detected_ok = detected is not None and detected >= earliest
    if detected is None:
        notes.append("detected_at is missing")
    elif not detected_ok:
        notes.append("detected_at is before the incident began")
        findings.append(
            Finding(
                kind="detected_before_incident",
                message=f"the postmortem says the incident was noticed "
                f"{injection.at - detected:.0f} s before the fault was injected",
                evidence={
                    "claimed_detected_at": detected,
                    "injected_at": injection.at,
                    "clock_tolerance_s": params.clock_tolerance_s,
                },
            )
        )
    if found.mitigated_at is None:
        mitigated_ok = mitigated is None
    else:
        mitigated_ok = mitigated is not None and abs(mitigated - found.mitigated_at) <= tol
    if not mitigated_ok:
        notes.append("mitigated_at disagrees with the prober's record")
        if mitigated is not None and found.mitigated_at is None:
            findings.append(
                Finding(
                    kind="claimed_mitigation_not_observed",
                    message="the postmortem says the service was mitigated; the SLO prober "
                    "never saw it healthy for the stability window",
                    evidence={"claimed_mitigated_at": mitigated},
                )
            )
    timeline = (detected_ok + mitigated_ok) / 2

    items = sum(
        1
        for line in postmortem.sections.get("prevention", "").splitlines()
        if _LIST_ITEM.match(line)
    )
    prevention = min(1.0, items / params.min_prevention_items)

    parts = {
        "sections": sections,
        "root_cause": root_cause,
        "timeline": timeline,
        "prevention": prevention,
    }
    score = sum(WEIGHTS[name] * value for name, value in parts.items())
    return GradeResult(
        score=score,
        passed=score >= params.pass_score,
        summary=("; ".join(notes) if notes else "complete and consistent with the prober's record"),
        evidence={
            "parts": {name: round(value, 3) for name, value in parts.items()},
            "weights": WEIGHTS,
            "claimed": {
                "root_cause": claimed,
                "detected_at": detected,
                "mitigated_at": mitigated,
            },
            "observed": {
                "root_cause": injection.root_cause,
                "injected_at": injection.at,
                "broke_at": found.broke_at,
                "mitigated_at": found.mitigated_at,
            },
            "prevention_items": items,
            "sections_present": present,
        },
        findings=findings,
    )


def root_cause_named(result: GradeResult) -> Verdict:
    """The ``root_cause`` condition: the postmortem names what was really injected."""
    claimed = result.evidence.get("claimed", {}).get("root_cause")
    observed = result.evidence.get("observed", {}).get("root_cause")
    if observed is None:
        return Verdict(False, f"not measured: {result.summary}")
    if not claimed:
        return Verdict(False, f"no root_cause given (the fault was {observed})")
    if claimed != observed:
        return Verdict(False, f"root_cause {claimed} named, but the fault was {observed}")
    return Verdict(True, f"root_cause {claimed}, as injected")
