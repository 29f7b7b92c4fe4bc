"""Candidate profiles gather their runs; forgetting a candidate erases their personal data and
workspaces, revokes their credentials, keeps the anonymous scores, and is audited."""

from __future__ import annotations

import json
from datetime import timedelta
from functools import partial
from pathlib import Path

import pytest

from prodproven.runner import plugins
from prodproven.runner.credentials.issuer_key import issuer_key
from prodproven.runner.credentials.issuing import Evidence, Register, Subject, bundle_sha256
from prodproven.runner.errors import CandidateNotFound, RunStateError
from prodproven.runner.people import track_record
from prodproven.runner.people.audit import Audit
from prodproven.runner.people.candidates import FORGOTTEN_REASON, Candidates, Forgotten
from prodproven.runner.people.invitations import Invitations
from prodproven.runner.people.outbox import Outbox
from prodproven.runner.runs.store import Run, Status, Store, utcnow
from prodproven.runner.spec.challenge import load_challenge
from tests.conftest import BUILTIN
from tests.unit.test_credentials import RESULT


@pytest.fixture
def audit(store: Store) -> Audit:
    return Audit(store)


@pytest.fixture
def candidates(store: Store, audit: Audit, tmp_path: Path) -> Candidates:
    return Candidates(store, audit, tmp_path / "runs")


@pytest.fixture
def register(store: Store, audit: Audit, tmp_path: Path) -> Register:
    return Register(store, audit, partial(issuer_key, tmp_path / "data"))


def run_of(store: Store, name: str, tmp_path: Path, until: Status = Status.graded) -> Run:
    run = store.create_run(
        challenge_id="deploy-model",
        challenge_version="1.1.0",
        challenge_path=str(BUILTIN / "deploy-model"),
        candidate=name,
        mode="interactive",
    )
    workspace = tmp_path / "runs" / run.id / "workspace.tar"
    workspace.parent.mkdir(parents=True)
    workspace.write_bytes(b"candidate's code")
    for status in (Status.provisioning, Status.running, Status.submitted, Status.grading):
        run = store.transition(run.id, status)
        if status is until:
            return run
    return store.transition(
        run.id,
        Status.graded,
        score=92.5,
        result={**RESULT, "candidate": name},
        graded_at=utcnow(),
        archive_path=str(workspace),
    )


def test_a_profile_gathers_the_candidates_graded_evidence(
    candidates: Candidates, store: Store, tmp_path: Path
) -> None:
    run_of(store, "Grace", tmp_path)
    run_of(store, "Alan", tmp_path)
    assert {e.competency for e in candidates.evidence("Grace")} == {"deployment", "optimization"}
    assert [r.candidate for r in candidates.runs("Grace")] == ["Grace"]


def test_a_profile_shows_the_infrastructure_value_a_run_measured(
    candidates: Candidates, store: Store, tmp_path: Path
) -> None:
    run = run_of(store, "Grace", tmp_path)
    measured = {"infrastructure": 84.0, "optimization": 90.0}
    store.update(run.id, result={**RESULT, "candidate": "Grace", "competencies": measured})
    found = track_record.record(candidates.evidence("Grace"), utcnow(), 24)
    assert set(found) == {"infrastructure", "optimization"}
    now, history = found["infrastructure"]
    assert now.value == pytest.approx(84.0) and now.runs == 1 and len(history) == 1


def test_an_unknown_candidate_is_one_message(candidates: Candidates) -> None:
    with pytest.raises(CandidateNotFound, match="no candidate 'Nobody'"):
        candidates.get("Nobody")


def test_a_profile_keeps_the_email_and_external_id_it_was_given(candidates: Candidates) -> None:
    candidates.ensure("Grace", "grace@example.org")
    made = candidates.ensure("Grace", external_id="ats-17")
    assert (made.email, made.external_id) == ("grace@example.org", "ats-17")


@pytest.fixture
def forgotten(
    candidates: Candidates, register: Register, store: Store, audit: Audit, tmp_path: Path
) -> tuple[Forgotten, Run]:
    """Grace, invited, with a graded run and a credential, then forgotten."""
    Invitations(store).create(
        firm="acme",
        challenge_id="deploy-model",
        candidate_name="Grace",
        candidate_email="grace@example.org",
        created_by="ada@acme.test",
        lifetime=timedelta(days=7),
    )
    audit.record("ada@acme.test", "invitation.created", "inv1", {"candidate": "grace@example.org"})
    candidates.ensure("Grace", "grace@example.org", "ats-17")
    outbox = Outbox(store, None)
    for to in ("Grace@Example.org", "grace@example.org", "linus@example.org"):
        outbox.queue(to, "Your invitation", "link", "campaign.invitation", "c1", firm="acme")
    run = run_of(store, "Grace", tmp_path)
    spec = load_challenge(BUILTIN / "deploy-model", plugins.catalog()).spec
    register.issue(
        Evidence(run, spec, [], bundle_sha256(run, [])),
        Subject("grace@example.org", "emailAddress"),
        "ada@acme.test",
        issuer_name="Acme",
        base_url="https://pp.example",
        months=12,
    )
    done = candidates.forget("Grace", "cli:root", register)
    return done, run


def test_forgetting_replaces_the_name_everywhere_with_an_alias(
    forgotten: tuple[Forgotten, Run], store: Store, candidates: Candidates
) -> None:
    done, run = forgotten
    kept = store.get(run.id)
    assert kept.result is not None
    assert kept.candidate == done.alias and kept.result["candidate"] == done.alias
    profile = candidates.get(done.alias)
    assert (profile.email, profile.external_id) == (None, None)
    assert profile.forgotten_at is not None
    with pytest.raises(CandidateNotFound):
        candidates.get("Grace")


def test_forgetting_keeps_the_anonymous_scores(
    forgotten: tuple[Forgotten, Run], store: Store
) -> None:
    _, run = forgotten
    assert store.get(run.id).score == 92.5


def test_forgetting_erases_the_workspaces(
    forgotten: tuple[Forgotten, Run], store: Store, tmp_path: Path
) -> None:
    _, run = forgotten
    assert not (tmp_path / "runs" / run.id).exists()
    assert store.get(run.id).archive_path is None


def test_forgetting_erases_the_invitation_and_audit_personal_data(
    forgotten: tuple[Forgotten, Run], store: Store, audit: Audit
) -> None:
    done, _ = forgotten
    invitation = Invitations(store).list()[0]
    assert (invitation.candidate_name, invitation.candidate_email) == (done.alias, "")
    logged = json.dumps([e.data for e in audit.entries()])
    assert "grace@example.org" not in logged and "Grace" not in logged


def test_forgetting_deletes_their_emails_from_the_outbox_and_no_one_elses(
    forgotten: tuple[Forgotten, Run], store: Store
) -> None:
    done, _ = forgotten
    assert done.messages == 2
    assert [m.recipient for m in Outbox(store, None).messages()] == ["linus@example.org"]


def test_forgetting_revokes_the_credentials(
    forgotten: tuple[Forgotten, Run], register: Register
) -> None:
    _, run = forgotten
    issued = register.for_run(run.id)[0]
    assert issued.revoked_at is not None and issued.revoke_reason == FORGOTTEN_REASON
    assert "revoked" in next(
        c.detail for c in register.verify(issued.document).checks if c.name == "status"
    )


def test_forgetting_is_audited_without_the_name(
    forgotten: tuple[Forgotten, Run], audit: Audit
) -> None:
    done, _ = forgotten
    entry = next(e for e in audit.entries() if e.action == "candidate.forgotten")
    assert (
        entry.subject == done.alias and entry.data["runs"] == 1 and entry.data["credentials"] == 1
    )


def test_a_candidate_with_a_run_under_way_is_not_forgotten(
    candidates: Candidates, register: Register, store: Store, tmp_path: Path
) -> None:
    run_of(store, "Grace", tmp_path, until=Status.running)
    with pytest.raises(RunStateError, match="not finished"):
        candidates.forget("Grace", "cli:root", register)


def test_a_candidate_whose_run_was_cancelled_can_be_forgotten(
    candidates: Candidates, register: Register, store: Store, tmp_path: Path
) -> None:
    run = run_of(store, "Grace", tmp_path, until=Status.running)
    store.transition(run.id, Status.cancelled, error="withdrew")
    assert candidates.forget("Grace", "cli:root", register).alias.startswith("forgotten-")
