"""The on-call alert's facet (runner/portal/oncall.py): a candidate sees the open alert of
their invitation's running run and acknowledges it; the operator sees a run's alerts and may
acknowledge the open one. Every acknowledgement is a run event and a line of the audit log."""

from __future__ import annotations

import pytest

from prodproven.runner.errors import AccessDenied, RunNotFound, RunStateError
from prodproven.runner.portal.core import Portal
from prodproven.runner.runs.alerts import FIRED, RESOLVED
from prodproven.runner.runs.store import Run, Status
from tests.unit.portalsupport import BOB, CLI, invitation_for

SYMPTOM = "canary requests fail. Canary saw: HTTP 503 after 7 ms"


def invited_run(portal: Portal) -> tuple[str, Run]:
    """An invitation of firm-a and its running run."""
    invitation = invitation_for(portal, "firm-a")
    return invitation.id, portal.invited.start(invitation.id)


def fire(portal: Portal, run: Run, number: int = 1, at: float = 100.0) -> str:
    alert_id = f"alert-{number}"
    data = {"id": alert_id, "name": "n", "at": at, "symptom": SYMPTOM}
    portal.records.store.add_event(run.id, FIRED, data)
    return alert_id


def test_a_candidate_without_a_run_or_an_alert_sees_none(portal: Portal) -> None:
    invitation = invitation_for(portal, "firm-a")
    assert portal.oncall.candidate_alert(invitation.id) is None
    _, run = invited_run(portal)
    assert portal.oncall.candidate_alert(invitation.id) is None
    assert run.status is Status.running


def test_a_candidate_sees_the_open_alert_of_their_run(portal: Portal) -> None:
    invitation_id, run = invited_run(portal)
    alert_id = fire(portal, run)
    found = portal.oncall.candidate_alert(invitation_id)
    assert found is not None
    assert (found.id, found.fired_at, found.symptom) == (alert_id, 100.0, SYMPTOM)


def test_a_resolved_alert_is_no_longer_shown(portal: Portal) -> None:
    invitation_id, run = invited_run(portal)
    alert_id = fire(portal, run)
    portal.records.store.add_event(run.id, RESOLVED, {"id": alert_id, "at": 130.0})
    assert portal.oncall.candidate_alert(invitation_id) is None


def test_a_run_that_stopped_running_shows_no_alert(portal: Portal) -> None:
    invitation_id, run = invited_run(portal)
    fire(portal, run)
    portal.records.store.transition(run.id, Status.submitted)
    assert portal.oncall.candidate_alert(invitation_id) is None
    with pytest.raises(RunStateError, match="not running"):
        portal.oncall.candidate_acknowledge(invitation_id, "alert-1")


def test_the_candidates_acknowledgement_is_an_event_and_an_audit_line(portal: Portal) -> None:
    invitation_id, run = invited_run(portal)
    alert_id = fire(portal, run)
    acked = portal.oncall.candidate_acknowledge(invitation_id, alert_id)
    who = f"candidate:{portal.records.invitations.get(invitation_id).candidate_email}"
    assert acked.acknowledged_by == who and acked.acknowledged_at is not None
    [event] = [e.data for e in portal.records.store.events(run.id) if e.kind.endswith("ledged")]
    assert event == {"id": alert_id, "at": acked.acknowledged_at, "by": who}
    [entry] = [e for e in portal.records.audit.entries(subject=run.id) if e.action != "run.started"]
    assert (entry.actor, entry.action, entry.data) == (
        who,
        "alert.acknowledged",
        {"alert": alert_id},
    )


def test_a_revoked_invitation_sees_no_alert(portal: Portal) -> None:
    invitation_id, run = invited_run(portal)
    fire(portal, run)
    portal.invitations.revoke(CLI, invitation_id)
    with pytest.raises(AccessDenied):
        portal.oncall.candidate_alert(invitation_id)


def test_the_operator_lists_a_runs_alerts_and_acknowledges_the_open_one(portal: Portal) -> None:
    _, run = invited_run(portal)
    first = fire(portal, run, 1, 100.0)
    portal.records.store.add_event(run.id, RESOLVED, {"id": first, "at": 130.0})
    second = fire(portal, run, 2, 200.0)
    acked = portal.oncall.acknowledge(CLI, run.id)
    assert (acked.id, acked.acknowledged_by) == (second, CLI.label)
    assert [a.id for a in portal.oncall.of_run(CLI, run.id)] == [first, second]


def test_acknowledging_when_nothing_is_open_is_refused(portal: Portal) -> None:
    _, run = invited_run(portal)
    with pytest.raises(RunStateError, match=f"run {run.id} has no open alert"):
        portal.oncall.acknowledge(CLI, run.id)


def test_another_firm_never_learns_of_a_runs_alerts(portal: Portal) -> None:
    _, run = invited_run(portal)
    fire(portal, run)
    with pytest.raises(RunNotFound):
        portal.oncall.of_run(BOB, run.id)
    with pytest.raises(RunNotFound):
        portal.oncall.acknowledge(BOB, run.id)
