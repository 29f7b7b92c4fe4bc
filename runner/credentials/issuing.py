"""Verifiable credentials for graded runs: an Open Badges 3.0 ``OpenBadgeCredential`` on the W3C
Verifiable Credentials Data Model 2.0, signed by the installation's key (``did:key``) with an
``eddsa-rdfc-2022`` Data Integrity proof, kept in a register that also records revocations and
publishes them as a Bitstring Status List (``runner.status_list``).

What a credential says is built in ``runner.credential_content``; only a graded run that passed
its requirements and meets its pass score is issued one, and only once the credential conforms
to the Open Badges 3.0 JSON Schema (``runner.ob_schema``) and every term of it is defined.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import String, Text, select
from sqlalchemy.orm import Mapped, mapped_column

from prodproven.runner.credentials import data_integrity, ob_schema, status_list
from prodproven.runner.credentials.content import (
    CONTEXT,
    OB_SCHEMA,
    Evidence,
    Subject,
    build,
    new_id,
)
from prodproven.runner.credentials.content import bundle_sha256 as bundle_sha256
from prodproven.runner.credentials.data_integrity import issuer_id, parse_stamp, stamp
from prodproven.runner.credentials.issuer_key import IssuerKey
from prodproven.runner.credentials.linked_data import undefined_terms
from prodproven.runner.credentials.status_list import StatusEntryRow
from prodproven.runner.errors import CredentialError, CredentialNotFound, RunStateError
from prodproven.runner.grading.result import status_document
from prodproven.runner.people.audit import Audit
from prodproven.runner.people.reviews import effective
from prodproven.runner.runs.store import Base, Run, Status, Store, utcnow

__all__ = [
    "CONTEXT",
    "OB_SCHEMA",
    "Check",
    "Evidence",
    "Issued",
    "Register",
    "Subject",
    "Verdict",
    "build",
    "bundle_sha256",
]


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
class Check:
    name: str
    ok: bool
    detail: str
    warning: bool = False
    """Something could not be checked (e.g. an unreachable status list); it does not fail."""


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

    def add(self, name: str, ok: bool, detail: str, warning: bool = False) -> None:
        self.checks.append(Check(name, ok, detail, warning))

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "id": self.id,
            "issuer": self.issuer,
            "validFrom": self.valid_from,
            "validUntil": self.valid_until,
            "checks": [vars(c) for c in self.checks],
        }


class Register:
    """Credentials issued by this installation, and their revocations. ``key`` gives the
    signing key, asked for only when a credential is issued or verified (so looking credentials
    up never makes one)."""

    def __init__(self, store: Store, audit: Audit, key: Callable[[], IssuerKey]) -> None:
        self.store = store
        self.audit = audit
        self._key = cache(key)
        self._lists: dict[tuple[str, str, tuple[int, ...]], dict[str, Any]] = {}

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
        """Sign and record a credential for a graded run that passed its requirements and meets
        its pass score (after review), with the next index of the revocation status list.
        Raises RunStateError for a run that is not graded, CredentialError for one that did
        not pass (naming the requirements it missed) or was graded before requirements were."""
        run = evidence.run
        if run.status is not Status.graded:
            raise RunStateError(f"run {run.id} is {run.status.value}; only graded runs earn one")
        _require_passed(run)
        score = effective(run, evidence.reviews).score
        if score is None or score < evidence.spec.pass_score:
            raise CredentialError(
                f"run {run.id} scored {score} (after review), below {evidence.spec.id}'s pass "
                f"score of {evidence.spec.pass_score:g}"
            )
        now, credential_id = utcnow(), new_id()
        status = status_list.entry(base_url, status_list.allocate(self.store, credential_id))
        unsigned = build(
            evidence,
            subject,
            self.key,
            issuer_name,
            base_url,
            now,
            months,
            credential_id=credential_id,
            status=status,
        )
        problems = undefined_terms(unsigned)
        if problems:  # our own document must be strict, or the proof covers less than it shows
            raise CredentialError(f"the credential would carry undefined terms: {problems}")
        signed = data_integrity.sign(unsigned, self.key, now)
        broken = ob_schema.violations(signed)
        if broken:
            raise CredentialError(
                "the credential would break the Open Badges 3.0 schema: "
                + "; ".join(map(str, broken))
            )
        with self.store.session() as s:
            row = CredentialRow(
                id=signed["id"],
                run_id=run.id,
                candidate=run.candidate,
                issued_at=now,
                valid_until=parse_stamp(signed["validUntil"]) or now,
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

    def revocation_list(self, base_url: str) -> dict[str, Any]:
        """The signed revocation status list credential as it stands (signed again only when a
        revocation changed it). Raises CredentialNotFound before the first credential with a
        status entry is issued (so asking never makes a signing key)."""
        with self.store.session() as s:
            if s.scalar(select(StatusEntryRow.list_index).limit(1)) is None:
                raise CredentialNotFound("no credential with a revocation status was issued here")
            revoked = tuple(
                s.scalars(
                    select(StatusEntryRow.list_index)
                    .join(CredentialRow, CredentialRow.id == StatusEntryRow.credential_id)
                    .where(CredentialRow.revoked_at.is_not(None))
                    .order_by(StatusEntryRow.list_index)
                )
            )
        key = (base_url, self.key.did, revoked)
        if key not in self._lists:
            self._lists = {key: status_list.list_credential(self.key, base_url, revoked, utcnow())}
        return self._lists[key]

    def verify(
        self,
        document: Any,
        now: datetime | None = None,
        fetch: status_list.Fetch | None = None,
    ) -> Verdict:
        """Every check of a credential: shape, the Open Badges 3.0 schema, strict terms,
        signature, issuer, dates and this register's revocation status, offline; with
        ``fetch``, also the status list its ``credentialStatus`` names (a list that cannot be
        fetched is a warning). Never raises for a bad credential."""
        verdict = Verdict()
        if not isinstance(document, dict):
            verdict.add("format", False, "a credential is a JSON object")
            return verdict
        verdict.id, verdict.issuer = document.get("id"), issuer_id(document)
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
        broken = ob_schema.violations(document)
        verdict.add(
            "schema",
            not broken,
            "; ".join(map(str, broken)) if broken else "conforms to the Open Badges 3.0 schema",
        )
        self._strict(verdict, document)
        self._signature(verdict, document)
        self._dates(verdict, document, now or utcnow())
        self._status(verdict, document)
        if fetch is not None:
            outcome = status_list.check(document, fetch, now or utcnow())
            verdict.add("revocation", outcome.ok, outcome.detail, outcome.warning)
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
        start, end = parse_stamp(document.get("validFrom")), parse_stamp(document.get("validUntil"))
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


def _require_passed(run: Run) -> None:
    """Raises CredentialError unless the run's result says it passed its requirements."""
    result = status_document(run)
    if result.passed is None:
        raise CredentialError(
            f"run {run.id} was graded before requirements were recorded: grade it again "
            f"(`prodproven grade {run.id}`) before issuing a credential"
        )
    if not result.passed:
        missed = [r for r in result.requirements if not r.met]
        reasons = "; ".join(f"{r.name}: {r.detail}" for r in missed)
        raise CredentialError(
            f"run {run.id} did not pass: {reasons or 'its result says it did not pass'}"
        )
