"""What a credential says: the Open Badges 3.0 ``OpenBadgeCredential`` of a graded run, before
it is signed (see ``runner.credentials`` for the register that signs, revokes and verifies).

It carries what checking the run needs (the challenge and its version, the score breakdown with
its 90% interval, the requirements met, each grader's key figures, the review status with any
override, and the SHA-256 of the run's evidence bundle) and nothing more: the candidate appears
only as a salted hash of their email (or name), and the workspace stays behind assessor sign-in.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from prodproven.runner.credentials.data_integrity import stamp
from prodproven.runner.credentials.issuer_key import IssuerKey
from prodproven.runner.credentials.linked_data import OB_V3, VC_V2
from prodproven.runner.grading.result import RunResult, status_document
from prodproven.runner.people.reviews import Review, effective
from prodproven.runner.people.track_record import LEVELS, level, validity
from prodproven.runner.runs.store import Run
from prodproven.runner.spec.challenge import ChallengeSpec
from prodproven.runner.spec.parts import about_competency

CONTEXT = [VC_V2, OB_V3]
OB_SCHEMA = (
    "https://purl.imsglobal.org/spec/ob/v3p0/schema/json/ob_v3p0_achievementcredential_schema.json"
)


@dataclass(frozen=True)
class Subject:
    """Who the credential is about, as only the hash of an identifier."""

    identifier: str
    kind: str
    """``emailAddress`` or ``name`` (Open Badges' identity types)."""


@dataclass(frozen=True)
class Evidence:
    """What of the run goes into its credential."""

    run: Run
    spec: ChallengeSpec
    reviews: list[Review]
    bundle_sha256: str


def _hashed(subject: Subject) -> dict[str, Any]:
    salt = secrets.token_hex(8)
    digest = hashlib.sha256((subject.identifier.strip().lower() + salt).encode()).hexdigest()
    return {
        "type": "IdentityObject",
        "identityHash": f"sha256${digest}",
        "identityType": subject.kind,
        "hashed": True,
        "salt": salt,
    }


def build(
    evidence: Evidence,
    subject: Subject,
    issuer: IssuerKey,
    issuer_name: str,
    base_url: str,
    now: datetime,
    months: int,
    *,
    credential_id: str | None = None,
    status: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The unsigned credential for ``evidence`` (see the module's docstring for what is in),
    with ``status`` as its ``credentialStatus`` when given."""
    run, spec = evidence.run, evidence.spec
    doc = status_document(run)
    credential_id = credential_id or new_id()
    achievement_id = f"{base_url}/challenges/{spec.id}/{spec.version}"
    graders, competencies = doc.graders, doc.competencies
    score = effective(run, evidence.reviews).score
    descriptions = [
        _description(achievement_id, "score", "production-proven score"),
        *(_competency(achievement_id, c) for c in competencies),
        *(_description(achievement_id, f"grader/{g.name}", g.name) for g in graders),
    ]
    results = [
        _result(achievement_id, "score", score or 0.0),
        *(_result(achievement_id, f"competency/{c}", v, level(v)) for c, v in competencies.items()),
        *(_result(achievement_id, f"grader/{g.name}", 100 * g.score) for g in graders),
    ]
    credential: dict[str, Any] = {
        "@context": CONTEXT,
        "id": credential_id,
        "type": ["VerifiableCredential", "OpenBadgeCredential"],
        "name": f"{spec.title}: production-proven",
        "issuer": {"id": issuer.did, "type": ["Profile"], "name": issuer_name, "url": base_url},
        "validFrom": stamp(now),
        "validUntil": stamp(now + validity(months)),
        "credentialSubject": {
            "type": ["AchievementSubject"],
            "identifier": [_hashed(subject)],
            "achievement": {
                "id": achievement_id,
                "type": ["Achievement"],
                "achievementType": "Assessment",
                "name": spec.title,
                "version": spec.version,
                "description": spec.summary or spec.title,
                "criteria": {"narrative": _criteria(spec)},
                "tag": [c.value for c in spec.competencies],
                "resultDescription": descriptions,
            },
            "result": results,
        },
        "evidence": [
            {
                "id": f"urn:sha256:{evidence.bundle_sha256}",
                "type": ["Evidence"],
                "name": "Graded run",
                "genre": "Score breakdown",
                "description": f"Run {run.id}, graded {stamp(run.graded_at or now)}; the id is "
                "the SHA-256 of the run's evidence bundle (archives, result, artifacts).",
                "narrative": _breakdown(doc),
            },
            {
                "id": f"{credential_id}#requirements",
                "type": ["Evidence"],
                "name": "Requirements met",
                "genre": "Requirements",
                "narrative": _requirements(doc),
            },
            {
                "id": f"{credential_id}#review",
                "type": ["Evidence"],
                "name": "Assessor review",
                "genre": "Review",
                "narrative": _review(run, evidence.reviews),
            },
        ],
        "credentialSchema": [{"id": OB_SCHEMA, "type": "1EdTechJsonSchemaValidator2019"}],
    }
    if status is not None:
        credential["credentialStatus"] = status
    return credential


def new_id() -> str:
    return f"urn:uuid:{uuid.uuid4()}"


def _description(achievement_id: str, key: str, name: str) -> dict[str, Any]:
    return {
        "id": f"{achievement_id}#{key}",
        "type": ["ResultDescription"],
        "name": name,
        "resultType": "Percent",
        "valueMin": "0",
        "valueMax": "100",
    }


def _competency(achievement_id: str, competency: str) -> dict[str, Any]:
    """A competency's result description, with the levels its results point to."""
    floors = [floor for floor, _ in LEVELS]
    return {
        **_description(achievement_id, f"competency/{competency}", about_competency(competency)[0]),
        "rubricCriterionLevel": [
            {
                "id": f"{achievement_id}#level/{name.replace(' ', '-')}",
                "type": ["RubricCriterionLevel"],
                "name": name,
                "description": f"a value of {floor:g} or more"
                if not upper
                else f"a value from {floor:g} to below {upper:g}",
            }
            for (floor, name), upper in zip(LEVELS, [None, *floors[:-1]], strict=True)
        ],
    }


def _result(
    achievement_id: str, key: str, value: float, named: str | None = None
) -> dict[str, Any]:
    result: dict[str, Any] = {
        "type": ["Result"],
        "resultDescription": f"{achievement_id}#{key}",
        "value": f"{value:.1f}",
    }
    if named is not None:
        result["status"] = "Completed"
        result["achievedLevel"] = f"{achievement_id}#level/{named.replace(' ', '-')}"
    return result


def _criteria(spec: ChallengeSpec) -> str:
    graders = ", ".join(f"{g.name} ({g.kind}, weight {g.weight:g})" for g in spec.graders)
    return (
        f"Completed the {spec.time_limit_minutes:g}-minute hands-on challenge "
        f"{spec.id} {spec.version} in a sandboxed workspace, met each of its requirements and "
        f"scored at least {spec.pass_score:g} of 100, measured by re-running the work: {graders}."
    )


def _breakdown(doc: RunResult) -> str:
    lines = [f"Score {doc.score} = {doc.formula or 'weighted graders'}"]
    spread = doc.uncertainty
    if spread is not None:
        low, high = spread.interval
        lines.append(
            f"{100 * spread.level:g}% interval of the graded score: {low:.1f} to "
            f"{high:.1f} (standard error {spread.sem:.1f}; {spread.basis})"
        )
    for g in doc.graders:
        lines.append(f"- {g.name} ({g.kind}): {100 * g.score:.1f} - {g.summary}")
    for finding in doc.integrity:
        lines.append(f"- integrity finding ({finding.grader}): {finding.message}")
    return "\n".join(lines)


def _requirements(doc: RunResult) -> str:
    if not doc.requirements:
        return "The challenge sets no requirement beyond its pass score."
    lines = ["Each requirement of the challenge, as measured:"]
    for r in doc.requirements:
        verdict = "met" if r.met else "NOT met"
        close = " (borderline: within the measurement's own noise)" if r.borderline else ""
        lines.append(f"- {r.name} ({r.grader}): {verdict}, {r.detail}{close}")
    return "\n".join(lines)


def _review(run: Run, reviews: list[Review]) -> str:
    if not reviews:
        return f"Not reviewed by an assessor; the graded score {run.score} stands."
    lines = []
    for r in reviews:
        if r.kind == "override":
            lines.append(
                f"- {stamp(r.created_at)} {r.author} overrode the score from "
                f"{r.previous_score} to {r.score}: {r.text}"
            )
        else:
            lines.append(f"- {stamp(r.created_at)} {r.author} noted: {r.text}")
    return "Reviewed:\n" + "\n".join(lines)


def bundle_sha256(run: Run, artifacts: list[tuple[str, str]]) -> str:
    """SHA-256 of the run's evidence bundle: its archives, result document and artifacts."""
    manifest = {
        "run": run.id,
        "workspace": run.archive_sha256,
        "services": {k: v.get("sha256") for k, v in (run.service_archives or {}).items()},
        "result": hashlib.sha256(json.dumps(run.result, sort_keys=True).encode()).hexdigest(),
        "artifacts": sorted(artifacts),
    }
    return hashlib.sha256(json.dumps(manifest, sort_keys=True).encode()).hexdigest()
