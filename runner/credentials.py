"""Verifiable credentials for graded runs: an Open Badges 3.0 ``OpenBadgeCredential`` on the W3C
Verifiable Credentials Data Model 2.0, signed by the installation's key (``did:key``) with an
``eddsa-rdfc-2022`` Data Integrity proof, kept in a register that also records revocations.

The credential carries what checking the run needs (the challenge and its version, the score
breakdown, each grader's key figures, the review status with any override, and the SHA-256 of
the run's evidence bundle) and nothing more: the candidate appears only as a salted hash of
their email (or name), and the workspace stays behind assessor sign-in.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import String, Text, select
from sqlalchemy.orm import Mapped, mapped_column

from runner import data_integrity
from runner.audit import Audit
from runner.challenge import ChallengeSpec
from runner.data_integrity import stamp
from runner.errors import CredentialError, CredentialNotFound, RunStateError
from runner.issuer_key import IssuerKey
from runner.linked_data import OB_V3, VC_V2, undefined_terms
from runner.reviews import Review, effective
from runner.store import Base, Run, Status, Store, utcnow
from runner.track_record import LEVELS, level, validity

CONTEXT = [VC_V2, OB_V3]
OB_SCHEMA = (
    "https://purl.imsglobal.org/spec/ob/v3p0/schema/json/ob_v3p0_achievementcredential_schema.json"
)


class CredentialRow(Base):
    __tablename__ = "credentials"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    run_id: Mapped[str] = mapped_column(String(32), index=True)
    candidate: Mapped[str] = mapped_column(String(200), index=True)
    issued_at: Mapped[datetime] = mapped_column()
    valid_until: Mapped[datetime] = mapped_column()
    document: Mapped[str] = mapped_column(Text)
    revoked_at: Mapped[datetime | None] = mapped_column()
    revoked_by: Mapped[str | None] = mapped_column(String(254))
    revoke_reason: Mapped[str | None] = mapped_column(Text)


@dataclass(frozen=True)
class Issued:
    id: str
    run_id: str
    candidate: str
    issued_at: datetime
    valid_until: datetime
    document: dict[str, Any]
    revoked_at: datetime | None = None
    revoke_reason: str | None = None

    @classmethod
    def from_row(cls, row: CredentialRow) -> Issued:
        return cls(
            id=row.id,
            run_id=row.run_id,
            candidate=row.candidate,
            issued_at=row.issued_at,
            valid_until=row.valid_until,
            document=json.loads(row.document),
            revoked_at=row.revoked_at,
            revoke_reason=row.revoke_reason,
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


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str


@dataclass
class Verdict:
    """``credential verify``'s answer: every check, and what the credential says."""

    checks: list[Check] = field(default_factory=list)
    id: str | None = None
    issuer: str | None = None
    valid_from: str | None = None
    valid_until: str | None = None

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks)

    def add(self, name: str, ok: bool, detail: str) -> None:
        self.checks.append(Check(name, ok, detail))

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "id": self.id,
            "issuer": self.issuer,
            "validFrom": self.valid_from,
            "validUntil": self.valid_until,
            "checks": [vars(c) for c in self.checks],
        }


def _parse(stamp: Any) -> datetime | None:
    try:
        moment = datetime.fromisoformat(str(stamp).replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


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
) -> dict[str, Any]:
    """The unsigned credential for ``evidence`` (see the module's docstring for what is in)."""
    run, spec = evidence.run, evidence.spec
    doc = run.result or {}
    credential_id = f"urn:uuid:{uuid.uuid4()}"
    achievement_id = f"{base_url}/challenges/{spec.id}/{spec.version}"
    graders = doc.get("graders", [])
    competencies: dict[str, float] = doc.get("competencies", {})
    score = effective(run, evidence.reviews).score
    descriptions = [
        _description(achievement_id, "score", "production-proven score"),
        *(_competency(achievement_id, c) for c in competencies),
        *(_description(achievement_id, f"grader/{g['name']}", g["name"]) for g in graders),
    ]
    results = [
        _result(achievement_id, "score", score or 0.0),
        *(_result(achievement_id, f"competency/{c}", v, level(v)) for c, v in competencies.items()),
        *(_result(achievement_id, f"grader/{g['name']}", 100 * g["score"]) for g in graders),
    ]
    return {
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
                "id": f"{credential_id}#review",
                "type": ["Evidence"],
                "name": "Assessor review",
                "genre": "Review",
                "narrative": _review(run, evidence.reviews),
            },
        ],
        "credentialSchema": [{"id": OB_SCHEMA, "type": "1EdTechJsonSchemaValidator2019"}],
    }


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
        **_description(achievement_id, f"competency/{competency}", competency),
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
        f"{spec.id} {spec.version} in a sandboxed workspace and scored at least "
        f"{spec.pass_score:g} of 100, measured by re-running the work: {graders}."
    )


def _breakdown(doc: dict[str, Any]) -> str:
    lines = [f"Score {doc.get('score')} = {doc.get('formula', 'weighted graders')}"]
    for g in doc.get("graders", []):
        lines.append(f"- {g['name']} ({g['kind']}): {100 * g['score']:.1f} - {g['summary']}")
    for finding in doc.get("integrity", []):
        lines.append(f"- integrity finding ({finding['grader']}): {finding['message']}")
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


class Register:
    """Credentials issued by this installation, and their revocations. ``key`` gives the
    signing key, asked for only when a credential is issued or verified (so looking credentials
    up never makes one)."""

    def __init__(self, store: Store, audit: Audit, key: Callable[[], IssuerKey]) -> None:
        self.store = store
        self.audit = audit
        self._key = cache(key)
        store.create_tables(CredentialRow)

    @property
    def key(self) -> IssuerKey:
        return self._key()

    def issue(
        self,
        evidence: Evidence,
        subject: Subject,
        actor: str,
        *,
        issuer_name: str,
        base_url: str,
        months: int,
    ) -> Issued:
        """Sign and record a credential for a graded run that passed. Raises RunStateError for
        a run that is not graded, CredentialError for one below the challenge's pass score."""
        run = evidence.run
        if run.status is not Status.graded:
            raise RunStateError(f"run {run.id} is {run.status.value}; only graded runs earn one")
        score = effective(run, evidence.reviews).score
        if score is None or score < evidence.spec.pass_score:
            raise CredentialError(
                f"run {run.id} scored {score} (after review), below {evidence.spec.id}'s pass "
                f"score of {evidence.spec.pass_score:g}"
            )
        now = utcnow()
        unsigned = build(evidence, subject, self.key, issuer_name, base_url, now, months)
        problems = undefined_terms(unsigned)
        if problems:  # our own document must be strict, or the proof covers less than it shows
            raise CredentialError(f"the credential would carry undefined terms: {problems}")
        signed = data_integrity.sign(unsigned, self.key, now)
        with self.store.session() as s:
            row = CredentialRow(
                id=signed["id"],
                run_id=run.id,
                candidate=run.candidate,
                issued_at=now,
                valid_until=_parse(signed["validUntil"]) or now,
                document=json.dumps(signed),
            )
            s.add(row)
            s.flush()
            issued = Issued.from_row(row)
        self.audit.record(actor, "credential.issued", run.id, {"credential": issued.id})
        return issued

    def get(self, credential_id: str) -> Issued:
        """Raises CredentialError for an id this installation never issued."""
        with self.store.session() as s:
            row = s.get(CredentialRow, credential_id)
            if row is None:
                raise CredentialNotFound(f"no credential {credential_id!r} was issued here")
            return Issued.from_row(row)

    def for_run(self, run_id: str) -> list[Issued]:
        with self.store.session() as s:
            rows = s.scalars(select(CredentialRow).where(CredentialRow.run_id == run_id))
            return [Issued.from_row(r) for r in rows]

    def rename_candidate(self, run_id: str, alias: str) -> None:
        """Replace the candidate's name on the run's credentials (when they are forgotten)."""
        with self.store.session() as s:
            for row in s.scalars(select(CredentialRow).where(CredentialRow.run_id == run_id)):
                row.candidate = alias

    def revoke(self, credential_id: str, actor: str, reason: str) -> Issued:
        """Raises CredentialError for an unknown id, an empty reason or a second revocation."""
        if len(reason.strip()) < 10:
            raise CredentialError("a revocation needs a reason of at least 10 characters")
        with self.store.session() as s:
            row = s.get(CredentialRow, credential_id)
            if row is None:
                raise CredentialNotFound(f"no credential {credential_id!r} was issued here")
            if row.revoked_at is not None:
                raise CredentialError(f"credential {credential_id} was revoked already")
            row.revoked_at, row.revoked_by, row.revoke_reason = utcnow(), actor, reason.strip()
            s.flush()
            issued = Issued.from_row(row)
        self.audit.record(actor, "credential.revoked", issued.run_id, {"credential": issued.id})
        return issued

    def verify(self, document: Any, now: datetime | None = None) -> Verdict:
        """Every check of a credential, offline: shape, strict terms, signature, issuer,
        dates and this register's revocation status. Never raises for a bad credential."""
        verdict = Verdict()
        if not isinstance(document, dict):
            verdict.add("format", False, "a credential is a JSON object")
            return verdict
        verdict.id, verdict.issuer = document.get("id"), _issuer_id(document)
        verdict.valid_from, verdict.valid_until = (
            document.get("validFrom"),
            document.get("validUntil"),
        )
        types = document.get("type") or []
        shaped = document.get("@context") == CONTEXT and "OpenBadgeCredential" in types
        verdict.add(
            "format",
            shaped,
            "an Open Badges 3.0 credential"
            if shaped
            else f"@context must be {CONTEXT} and type include OpenBadgeCredential",
        )
        self._strict(verdict, document)
        self._signature(verdict, document)
        self._dates(verdict, document, now or utcnow())
        self._status(verdict, document)
        return verdict

    def _strict(self, verdict: Verdict, document: dict[str, Any]) -> None:
        try:
            extra = undefined_terms(document)
        except CredentialError as exc:
            verdict.add("terms", False, str(exc))
            return
        detail = f"fields no context defines: {', '.join(extra)}" if extra else "all defined"
        verdict.add("terms", not extra, detail)

    def _signature(self, verdict: Verdict, document: dict[str, Any]) -> None:
        try:
            method = data_integrity.verify(document)
        except CredentialError as exc:
            verdict.add("signature", False, str(exc))
            return
        verdict.add("signature", True, f"eddsa-rdfc-2022 by {method}")
        signer = method.partition("#")[0]
        if signer != verdict.issuer:
            verdict.add("issuer", False, f"signed by {signer}, but the issuer is {verdict.issuer}")
        elif signer != self.key.did:
            verdict.add(
                "issuer", False, f"issuer {signer} is not this installation ({self.key.did})"
            )
        else:
            verdict.add("issuer", True, f"this installation, {signer}")

    def _dates(self, verdict: Verdict, document: dict[str, Any], now: datetime) -> None:
        start, end = _parse(document.get("validFrom")), _parse(document.get("validUntil"))
        if start is None or end is None:
            verdict.add("dates", False, "validFrom and validUntil must be times with a zone")
        elif now < start:
            verdict.add("dates", False, f"not valid before {stamp(start)}")
        elif now > end:
            verdict.add("dates", False, f"expired on {stamp(end)}")
        else:
            verdict.add("dates", True, f"valid from {stamp(start)} until {stamp(end)}")

    def _status(self, verdict: Verdict, document: dict[str, Any]) -> None:
        try:
            issued = self.get(str(document.get("id")))
        except CredentialError as exc:
            verdict.add("status", False, str(exc))
            return
        if issued.revoked_at is not None:
            verdict.add(
                "status",
                False,
                f"revoked on {stamp(issued.revoked_at)}: {issued.revoke_reason}",
            )
        else:
            verdict.add("status", True, "not revoked")


def _issuer_id(document: dict[str, Any]) -> str | None:
    issuer = document.get("issuer")
    return (
        issuer.get("id")
        if isinstance(issuer, dict)
        else issuer
        if isinstance(issuer, str)
        else None
    )
