"""Shared by the portal's tests (tests/unit/test_portal_*.py; their fixtures are in
tests/unit/conftest.py): actors of two firms and the operator, and invitations and runs made
straight in the portal's records."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from prodproven.runner.people.invitations import Invitation
from prodproven.runner.portal.access import Actor
from prodproven.runner.portal.core import Portal
from prodproven.runner.portal.runs import RunSummary
from prodproven.runner.runs.store import Run, Status
from tests.unit.fakes import FakeRunner
from tests.unit.resultsupport import grader_entry

ADA = Actor("ada@a.example", "firm-a")
BOB = Actor("bob@b.example", "firm-b")
CLI = Actor("cli:x", None)
REASON = "the load test hit a noisy neighbour"


def fake(portal: Portal) -> FakeRunner:
    runner = portal.invited.runner()
    assert isinstance(runner, FakeRunner)
    return runner


def invitation_for(portal: Portal, firm: str, candidate: str = "Grace", **kw: Any) -> Invitation:
    invitation, _ = portal.records.invitations.create(
        firm=firm,
        challenge_id=kw.pop("challenge", "deploy-model"),
        candidate_name=candidate,
        candidate_email=f"{candidate.lower().replace(' ', '.')}@example.org",
        created_by="someone@example.org",
        lifetime=timedelta(days=7),
        **kw,
    )
    return invitation


def run_for(
    portal: Portal,
    firm: str | None,
    candidate: str = "Grace",
    *,
    challenge: str = "deploy-model",
    score: float | None = None,
    graders: dict[str, float] | None = None,
) -> Run:
    """A run of ``firm``'s invitation (None: started from the CLI), graded with ``score``."""
    store = portal.records.store
    run = store.create_run(
        challenge_id=challenge,
        challenge_version="1.0.0",
        challenge_path=f"/challenges/{challenge}",
        candidate=candidate,
        mode="interactive",
    )
    if firm is not None:
        portal.records.invitations.attach_run(invitation_for(portal, firm, candidate).id, run.id)
    store.transition(run.id, Status.provisioning)
    run = store.transition(run.id, Status.running)
    if score is not None:
        result = {
            "score": score,
            "graders": [grader_entry(n, s) for n, s in (graders or {}).items()],
        }
        for status in (Status.submitted, Status.grading):
            store.transition(run.id, status)
        run = store.transition(run.id, Status.graded, score=score, result=result)
    return run


def ids(summaries: Iterable[RunSummary]) -> list[str]:
    return [s.run.id for s in summaries]
