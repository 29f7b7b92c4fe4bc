"""Credentials: a graded run that passed its requirements and its pass score is issued a signed
Open Badges 3.0 credential that conforms to the Open Badges schema and states the requirements it
met, and verification fails, saying why, for every kind of tampering, an expired or revoked
credential and a credential signed by another key."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from datetime import timedelta
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from prodproven.runner import plugins
from prodproven.runner.credentials import data_integrity, ob_schema
from prodproven.runner.credentials.issuer_key import KEY_FILE, issuer_key
from prodproven.runner.credentials.issuing import (
    Evidence,
    Issued,
    Register,
    Subject,
    Verdict,
    bundle_sha256,
)
from prodproven.runner.credentials.linked_data import undefined_terms
from prodproven.runner.errors import CredentialError, RunStateError, StatusListUnreachable
from prodproven.runner.people.audit import Audit
from prodproven.runner.people.reviews import Reviews
from prodproven.runner.runs.store import Run, Status, Store, utcnow
from prodproven.runner.spec.challenge import ChallengeSpec, load_challenge
from tests.conftest import BUILTIN
from tests.unit.resultsupport import grader_entry

RESULT: dict[str, Any] = {
    "score": 92.5,
    "formula": "weighted mean",
    "competencies": {"deployment": 95.0, "optimization": 90.0},
    "graders": [
        grader_entry("correctness", 1.0, summary="100/100 right"),
        grader_entry("load", 0.9, summary="p95 84 ms"),
    ],
    "integrity": [],
    "passed": True,
    "requirements": [
        {
            "name": "SLO met at 25 req/s",
            "grader": "load",
            "condition": "slo_met",
            "met": True,
            "borderline": False,
            "detail": "p95 84 ms <= SLO 100 ms",
        },
        {
            "name": "answers are right",
            "grader": "correctness",
            "condition": "passed",
            "met": True,
            "borderline": True,
            "detail": "100 of 100 right >= 95",
        },
    ],
    "uncertainty": {
        "sem": 1.4,
        "interval": [90.2, 94.8],
        "level": 0.9,
        "basis": "load windows of this grading",
    },
}
FAILED_SLO = {
    "name": "SLO met at 25 req/s",
    "grader": "load",
    "condition": "slo_met",
    "met": False,
    "borderline": False,
    "detail": "p95 164 ms > SLO 100 ms",
}


@pytest.fixture
def register(store: Store, tmp_path: Path) -> Register:
    return Register(store, Audit(store), partial(issuer_key, tmp_path / "data"))


@pytest.fixture
def spec() -> ChallengeSpec:
    return load_challenge(BUILTIN / "deploy-model", plugins.catalog()).spec


def new_run(store: Store) -> Run:
    return store.create_run(
        challenge_id="deploy-model",
        challenge_version="1.1.0",
        challenge_path="/c",
        candidate="Grace",
        mode="interactive",
    )


def graded_run(store: Store, score: float = 92.5, **result: Any) -> Run:
    run = new_run(store)
    for status in (Status.provisioning, Status.running, Status.submitted, Status.grading):
        run = store.transition(run.id, status)
    document = {**RESULT, "score": score, **result}
    return store.transition(run.id, Status.graded, score=score, result=document, graded_at=utcnow())


def issue(register: Register, run: Run, spec: ChallengeSpec, reviews: Any = ()) -> Issued:
    evidence = Evidence(run, spec, list(reviews), bundle_sha256(run, []))
    return register.issue(
        evidence,
        Subject("grace@example.org", "emailAddress"),
        "cli:test",
        issuer_name="Acme assessments",
        base_url="https://pp.example",
        months=12,
    )


@pytest.fixture
def credential(register: Register, store: Store, spec: ChallengeSpec) -> dict[str, Any]:
    return issue(register, graded_run(store), spec).document


def failed(register: Register, document: Any, **kwargs: Any) -> dict[str, str]:
    verdict = register.verify(document, **kwargs)
    return {c.name: c.detail for c in verdict.checks if not c.ok}


def test_an_issued_credential_verifies(register: Register, credential: dict[str, Any]) -> None:
    verdict = register.verify(credential)
    assert verdict.ok, verdict.as_dict()
    assert [c.name for c in verdict.checks] == [
        "format",
        "schema",
        "terms",
        "signature",
        "issuer",
        "dates",
        "status",
    ]


def test_the_credential_is_an_open_badge_with_the_runs_evidence(
    credential: dict[str, Any], spec: ChallengeSpec
) -> None:
    assert credential["type"] == ["VerifiableCredential", "OpenBadgeCredential"]
    assert credential["issuer"]["id"].startswith("did:key:z6Mk")
    assert [p["cryptosuite"] for p in credential["proof"]] == ["eddsa-rdfc-2022"]
    subject = credential["credentialSubject"]
    assert subject["achievement"]["version"] == spec.version
    values = {r["resultDescription"].rsplit("#", 1)[1]: r["value"] for r in subject["result"]}
    assert values["score"] == "92.5" and values["grader/load"] == "90.0"
    assert values["competency/deployment"] == "95.0"
    assert credential["evidence"][0]["id"].startswith("urn:sha256:")
    assert "Grace" not in json.dumps(credential) and "grace@" not in json.dumps(credential)


def test_an_infrastructure_value_is_a_result_of_its_own_with_a_level(
    register: Register, store: Store, spec: ChallengeSpec
) -> None:
    competencies = {"infrastructure": 88.0, "optimization": 90.0}
    document = issue(register, graded_run(store, competencies=competencies), spec).document
    subject = document["credentialSubject"]
    described = {d["id"].rsplit("#", 1)[1] for d in subject["achievement"]["resultDescription"]}
    stated = {r["resultDescription"].rsplit("#", 1)[1]: r for r in subject["result"]}
    assert "competency/infrastructure" in described
    assert stated["competency/infrastructure"]["value"] == "88.0"
    assert stated["competency/infrastructure"]["achievedLevel"].endswith("#level/proficient")
    assert "competency/deployment" not in stated and ob_schema.violations(document) == []


def test_a_competency_is_described_by_its_label(
    register: Register, store: Store, spec: ChallengeSpec
) -> None:
    run = graded_run(store, competencies={"ai_judgment": 93.0})
    achievement = issue(register, run, spec).document["credentialSubject"]["achievement"]
    named = {d["id"].rsplit("#", 1)[1]: d["name"] for d in achievement["resultDescription"]}
    assert named["competency/ai_judgment"] == "judgment applied to AI output"


def test_every_term_of_the_credential_is_defined_by_its_contexts(
    credential: dict[str, Any],
) -> None:
    assert undefined_terms(credential) == []


@pytest.mark.parametrize(
    ("tamper", "check"),
    [
        (lambda c: c["credentialSubject"]["result"][0].update(value="99.0"), "signature"),
        (lambda c: c.update(validUntil="2099-01-01T00:00:00Z"), "signature"),
        (
            lambda c: c["credentialSubject"]["identifier"][0].update(identityHash="sha256$00"),
            "signature",
        ),
        (lambda c: c["proof"][0].update(proofValue="z" + "1" * 80), "signature"),
    ],
    ids=["changed-score", "changed-date", "swapped-subject", "forged-signature"],
)
def test_tampering_fails_the_signature(
    register: Register,
    credential: dict[str, Any],
    tamper: Callable[[dict[str, Any]], object],
    check: str,
) -> None:
    tampered = copy.deepcopy(credential)
    tamper(tampered)
    assert check in failed(register, tampered)


def test_an_added_field_no_context_defines_is_named(
    register: Register, credential: dict[str, Any]
) -> None:
    tampered = {**credential, "scoreBonus": 10}
    assert failed(register, tampered)["terms"] == "fields no context defines: scoreBonus"


def test_a_credential_resigned_with_another_key_fails_the_issuer_check(
    register: Register, credential: dict[str, Any], tmp_path: Path
) -> None:
    other = issuer_key(tmp_path / "other")
    unsigned = {k: v for k, v in credential.items() if k != "proof"}
    resigned = data_integrity.sign(unsigned, other, utcnow())
    assert "signed by did:key:" in failed(register, resigned)["issuer"]


def test_a_credential_of_another_issuer_is_not_this_installations(
    register: Register, credential: dict[str, Any], tmp_path: Path
) -> None:
    other = issuer_key(tmp_path / "other")
    unsigned = {k: v for k, v in credential.items() if k != "proof"}
    unsigned["issuer"] = {**unsigned["issuer"], "id": other.did}
    resigned = data_integrity.sign(unsigned, other, utcnow())
    assert "is not this installation" in failed(register, resigned)["issuer"]


def test_an_expired_credential_says_when_it_expired(
    register: Register, credential: dict[str, Any]
) -> None:
    later = utcnow() + timedelta(days=400)
    assert failed(register, credential, now=later)["dates"].startswith("expired on ")


def test_a_revoked_credential_says_when_and_why(
    register: Register, credential: dict[str, Any]
) -> None:
    register.revoke(credential["id"], "cli:test", "the candidate shared their workspace")
    assert "revoked on" in failed(register, credential)["status"]
    assert "shared their workspace" in failed(register, credential)["status"]


def test_a_revocation_needs_a_reason(register: Register, credential: dict[str, Any]) -> None:
    with pytest.raises(CredentialError, match="reason"):
        register.revoke(credential["id"], "cli:test", "no")


def test_a_run_below_the_pass_score_earns_no_credential(
    register: Register, store: Store, spec: ChallengeSpec
) -> None:
    with pytest.raises(CredentialError, match="below deploy-model's pass score of 70"):
        issue(register, graded_run(store, score=55.0), spec)


def test_an_override_counts_and_is_part_of_the_evidence(
    register: Register, store: Store, spec: ChallengeSpec
) -> None:
    run = graded_run(store, score=60.0)
    reviews = Reviews(store, Audit(store))
    reviews.override(run.id, "ada@acme.example", 80.0, "the load test hit a noisy neighbour")
    document = issue(register, run, spec, reviews.for_run(run.id)).document
    review = next(e for e in document["evidence"] if e["name"] == "Assessor review")["narrative"]
    assert "ada@acme.example overrode the score from 60.0 to 80.0" in review
    assert document["credentialSubject"]["result"][0]["value"] == "80.0"


def test_an_ungraded_run_earns_no_credential(
    register: Register, store: Store, spec: ChallengeSpec
) -> None:
    with pytest.raises(RunStateError):
        issue(register, new_run(store), spec)


def test_the_signing_key_is_made_once_readable_by_its_owner_only(tmp_path: Path) -> None:
    first = issuer_key(tmp_path)
    assert (tmp_path / KEY_FILE).stat().st_mode & 0o777 == 0o600
    assert issuer_key(tmp_path).did == first.did


def test_a_signing_key_readable_by_others_is_refused(tmp_path: Path) -> None:
    issuer_key(tmp_path)
    (tmp_path / KEY_FILE).chmod(0o644)
    with pytest.raises(CredentialError, match="chmod 600"):
        issuer_key(tmp_path)


def test_each_competency_level_points_at_a_level_the_achievement_defines(
    credential: dict[str, Any],
) -> None:
    achievement = credential["credentialSubject"]["achievement"]
    defined = {
        level["id"]
        for description in achievement["resultDescription"]
        for level in description.get("rubricCriterionLevel", [])
    }
    pointed = [
        r["achievedLevel"]
        for r in credential["credentialSubject"]["result"]
        if "achievedLevel" in r
    ]
    assert pointed and set(pointed) <= defined
    assert any(p.endswith("#level/advanced") for p in pointed)


def test_an_issued_credential_conforms_to_the_open_badges_schema(
    credential: dict[str, Any],
) -> None:
    assert ob_schema.violations(credential) == []


def test_a_schema_violation_is_named_by_its_json_path(
    register: Register, credential: dict[str, Any]
) -> None:
    single_proof = {**credential, "proof": credential["proof"][0]}
    assert failed(register, single_proof)["schema"].startswith("$.proof: ")
    assert "signature" not in failed(register, single_proof)  # a lone proof object still reads


def test_a_run_that_did_not_pass_earns_no_credential_and_is_told_why(
    register: Register, store: Store, spec: ChallengeSpec
) -> None:
    run = graded_run(store, passed=False, requirements=[FAILED_SLO, RESULT["requirements"][1]])
    with pytest.raises(CredentialError) as refused:
        issue(register, run, spec)
    assert str(refused.value) == (
        f"run {run.id} did not pass: SLO met at 25 req/s: p95 164 ms > SLO 100 ms"
    )


def test_a_run_graded_before_requirements_existed_must_be_graded_again(
    register: Register, store: Store, spec: ChallengeSpec
) -> None:
    run = graded_run(store)
    store.update(run.id, result={k: v for k, v in RESULT.items() if k != "passed"})
    with pytest.raises(CredentialError, match="grade it again"):
        issue(register, store.get(run.id), spec)


def test_the_credential_states_the_requirements_met_and_the_scores_interval(
    credential: dict[str, Any],
) -> None:
    evidence = {e["name"]: e["narrative"] for e in credential["evidence"]}
    requirements = evidence["Requirements met"]
    assert "- SLO met at 25 req/s (load): met, p95 84 ms <= SLO 100 ms" in requirements
    assert "answers are right (correctness): met, 100 of 100 right >= 95 (borderline" in (
        requirements
    )
    assert "90% interval of the graded score: 90.2 to 94.8" in evidence["Graded run"]


def test_each_credential_gets_the_next_index_of_the_revocation_status_list(
    register: Register, store: Store, spec: ChallengeSpec, credential: dict[str, Any]
) -> None:
    second = issue(register, graded_run(store), spec).document
    url = "https://pp.example/credentials/status/revocation"
    assert credential["credentialStatus"] == {
        "id": f"{url}#0",
        "type": "BitstringStatusListEntry",
        "statusPurpose": "revocation",
        "statusListIndex": "0",
        "statusListCredential": url,
    }
    assert second["credentialStatus"]["statusListIndex"] == "1"


def test_a_revoked_credential_fails_through_the_status_list_alone(
    register: Register, credential: dict[str, Any], tmp_path: Path
) -> None:
    def published(url: str) -> dict[str, Any]:
        assert url == "https://pp.example/credentials/status/revocation"
        return register.revocation_list("https://pp.example")

    other = Store(f"sqlite:///{tmp_path}/other.db")
    elsewhere = Register(other, Audit(other), partial(issuer_key, tmp_path / "elsewhere"))
    assert checks(elsewhere.verify(credential, fetch=published))["revocation"].startswith(
        "not revoked: bit 0 of the issuer's status list"
    )
    register.revoke(credential["id"], "cli:test", "the candidate shared their workspace")
    verdict = elsewhere.verify(credential, fetch=published)  # knows nothing of the revocation
    assert checks(verdict)["revocation"].startswith("revoked: bit 0 of the issuer's status list")
    assert not verdict.ok


def test_an_unreachable_status_list_is_a_warning_that_does_not_fail(
    register: Register, credential: dict[str, Any]
) -> None:
    def unreachable(url: str) -> dict[str, Any]:
        raise StatusListUnreachable(url, "connection refused")

    verdict = register.verify(credential, fetch=unreachable)
    revocation = next(c for c in verdict.checks if c.name == "revocation")
    assert revocation.ok and revocation.warning and verdict.ok
    assert revocation.detail == (
        "revocation not checked: https://pp.example/credentials/status/revocation unreachable "
        "(connection refused)"
    )


def checks(verdict: Verdict) -> dict[str, str]:
    return {c.name: c.detail for c in verdict.checks}
