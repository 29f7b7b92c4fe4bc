"""The invited candidate's side (runner/portal/invited.py): starting the run of an invitation,
submitting it and reaching its tools, with the one runner the portal makes."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from prodproven.runner.config import Settings
from prodproven.runner.errors import AccessDenied, ContainerError, ProdprovenError, RunStateError
from prodproven.runner.lifecycle.core import Runner
from prodproven.runner.lifecycle.start import EXTRA_TIME
from prodproven.runner.people.invitations import Accommodation
from prodproven.runner.portal.core import Portal
from prodproven.runner.portal.invited import ToolUpstream
from prodproven.runner.runs.store import Status, Store
from prodproven.sandbox.environment import PublishedPort
from prodproven.sandbox.services import MLFLOW
from tests.unit.fakes import FakeRunner, as_runner
from tests.unit.portalsupport import ADA, fake, invitation_for


# candidates: start ----------------------------------------------------------------------------
def test_start_invited_attaches_the_run_to_the_invitation(portal: Portal) -> None:
    invitation = invitation_for(portal, "firm-a", variant=7)
    run = portal.invited.start(invitation.id)
    assert run.status is Status.running
    assert (run.challenge_id, run.candidate, run.variant) == ("deploy-model", "Grace", 7)
    assert portal.records.invitations.get(invitation.id).run_id == run.id
    assert portal.runs.get(ADA, run.id).id == run.id


def test_start_invited_grants_the_invitations_extra_time_before_the_clock_opens(
    portal: Portal,
) -> None:
    invitation = invitation_for(portal, "firm-a", accommodation=Accommodation(percent=50))
    run = portal.invited.start(invitation.id)
    [granted] = [e for e in portal.records.store.events(run.id) if e.kind == EXTRA_TIME]
    limit = portal.catalogue.find_id("deploy-model").spec.time_limit_minutes
    assert granted.data == {"extra_s": limit * 60 * 0.5, "granted": "+50 %"}
    assert granted.id < next(
        e.id for e in portal.records.store.events(run.id) if e.kind == "status.running"
    )


def test_start_invited_records_the_start_in_the_audit_log(portal: Portal) -> None:
    invitation = invitation_for(portal, "firm-a")
    run = portal.invited.start(invitation.id)
    [entry] = portal.records.audit.entries(subject=run.id)
    assert entry.actor == f"candidate:{invitation.candidate_email}"
    assert entry.action == "run.started"
    assert entry.data == {"invitation": invitation.id}


def test_start_invited_makes_sure_the_supervisor_runs_and_asks_it_for_the_run(
    portal: Portal, settings: Settings, supervised: list[Settings]
) -> None:
    invitation = invitation_for(portal, "firm-a")
    run = portal.invited.start(invitation.id)
    log = settings.data_dir / "supervisor.log"
    assert supervised == [settings]
    assert fake(portal).called("event") == [
        (run.id, "supervisor.spawned", {"pid": 4242, "log": str(log)})
    ]


def test_a_run_that_fails_to_start_stays_recorded_and_can_be_retried(
    portal: Portal, supervised: list[Settings]
) -> None:
    invitation = invitation_for(portal, "firm-a")
    fake(portal).fail_after_create = True
    with pytest.raises(ContainerError):
        portal.invited.start(invitation.id)
    failed = portal.records.invitations.get(invitation.id).run_id
    assert failed is not None
    assert portal.records.store.get(failed).status is Status.errored
    assert [e.action for e in portal.records.audit.entries(subject=failed)] == ["run.started"]
    assert supervised == []
    fake(portal).fail_after_create = False
    retried = portal.invited.start(invitation.id)
    assert retried.id != failed
    assert portal.records.invitations.get(invitation.id).run_id == retried.id
    assert portal.records.store.get(failed).status is Status.errored


def test_a_second_start_invited_is_refused(portal: Portal, supervised: list[Settings]) -> None:
    invitation = invitation_for(portal, "firm-a")
    run = portal.invited.start(invitation.id)
    with pytest.raises(RunStateError, match=run.id):
        portal.invited.start(invitation.id)
    assert len(fake(portal).called("start")) == 1
    assert len(supervised) == 1


def test_a_revoked_invitation_cannot_start_a_run(portal: Portal) -> None:
    invitation = invitation_for(portal, "firm-a")
    portal.records.invitations.revoke(invitation.id)
    with pytest.raises(AccessDenied, match="revoked"):
        portal.invited.start(invitation.id)
    assert fake(portal).called("start") == []


def test_the_candidate_sees_the_runners_progress_while_starting(portal: Portal) -> None:
    invitation = invitation_for(portal, "firm-a")
    seen_while_starting: list[str | None] = []
    fake(portal).on_progress = lambda: seen_while_starting.append(
        portal.invited.state(invitation.id).busy
    )
    portal.invited.start(invitation.id)
    assert seen_while_starting == ["building images for deploy-model"]
    assert portal.invited.state(invitation.id).busy is None


def test_the_candidate_state_counts_down_to_the_deadline(portal: Portal) -> None:
    invitation = invitation_for(portal, "firm-a")
    assert portal.invited.state(invitation.id).run is None
    portal.invited.start(invitation.id)
    state = portal.invited.state(invitation.id)
    assert state.run is not None and state.challenge.id == "deploy-model"
    assert state.remaining_s is not None
    assert 89 * 60 < state.remaining_s <= 90 * 60  # deploy-model's time limit


def test_the_portal_makes_one_runner(portal: Portal, runners: list[FakeRunner]) -> None:
    first = invitation_for(portal, "firm-a", "Grace")
    second = invitation_for(portal, "firm-a", "Linus")
    portal.invited.start(first.id)
    portal.invited.start(second.id)
    assert len(runners) == 1


# candidates: submit ---------------------------------------------------------------------------
def test_submit_invited_submits_and_grades_the_run(portal: Portal) -> None:
    invitation = invitation_for(portal, "firm-a")
    run = portal.invited.start(invitation.id)
    graded = portal.invited.submit(invitation.id)
    assert graded.status is Status.graded
    assert fake(portal).called("submit") == [run.id]
    assert fake(portal).called("grade") == [run.id]
    actions = [e.action for e in portal.records.audit.entries(subject=run.id)]
    assert actions == ["run.submitted", "run.started"]


def test_submit_invited_without_a_run_is_refused(portal: Portal) -> None:
    invitation = invitation_for(portal, "firm-a")
    with pytest.raises(RunStateError, match="no run"):
        portal.invited.submit(invitation.id)


def test_submit_invited_of_a_submitted_run_only_grades_it(portal: Portal) -> None:
    invitation = invitation_for(portal, "firm-a")
    run = portal.invited.start(invitation.id)
    portal.records.store.transition(run.id, Status.submitted)
    assert portal.invited.submit(invitation.id).status is Status.graded
    assert fake(portal).called("submit") == []
    assert fake(portal).called("grade") == [run.id]


# candidates: tools ----------------------------------------------------------------------------
def published(monkeypatch: pytest.MonkeyPatch, portal: Portal, port: int = 2) -> None:
    """The fake runner's forwards, published on ``port`` (the real runner's PublishedPort)."""
    runner = fake(portal)

    def forward(run_id: str, name: str) -> PublishedPort:
        runner.calls.append(("forward", (run_id, name)))
        return PublishedPort(inner_port=5000, host="127.0.0.1", host_port=port)

    monkeypatch.setattr(runner, "forward", forward)


def test_the_lab_is_looked_up_once_and_again_when_its_port_failed(portal: Portal) -> None:
    invitation = invitation_for(portal, "firm-a")
    run = portal.invited.start(invitation.id)
    first = portal.invited.lab_upstream(invitation.id)
    assert portal.invited.lab_upstream(invitation.id) == first
    assert (first.port, first.token) == (1, f"t-{run.id}")
    assert fake(portal).called("lab") == [run.id]
    portal.invited.lab_upstream(invitation.id, failed_port=99)  # not the cached one's
    assert fake(portal).called("lab") == [run.id]
    portal.invited.lab_upstream(invitation.id, failed_port=first.port)  # the runner restarts it
    assert fake(portal).called("lab") == [run.id, run.id]


def test_a_service_is_forwarded_once_with_its_kinds_trusted_ui(
    portal: Portal, monkeypatch: pytest.MonkeyPatch
) -> None:
    invitation = invitation_for(portal, "firm-a", challenge="fix-drift")
    run = portal.invited.start(invitation.id)
    published(monkeypatch, portal)
    found = portal.invited.tool_upstream(invitation.id, "mlflow")
    assert portal.invited.tool_upstream(invitation.id, "mlflow") == found
    assert found == ToolUpstream(run.id, "mlflow", 2, MLFLOW.trusted_ui)
    assert fake(portal).called("forward") == [(run.id, "mlflow")]
    portal.invited.tool_upstream(invitation.id, "mlflow", failed_port=2)
    assert fake(portal).called("forward") == [(run.id, "mlflow")] * 2
    assert fake(portal).called("lab") == []


def test_a_declared_port_is_candidate_code_with_nothing_trusted(
    portal: Portal, monkeypatch: pytest.MonkeyPatch
) -> None:
    invitation = invitation_for(portal, "firm-a")
    portal.invited.start(invitation.id)
    published(monkeypatch, portal)
    assert portal.invited.tool_upstream(invitation.id, "service").trusted == ()
    with pytest.raises(ProdprovenError, match="no tool named 'lab' \\(tools: service\\)"):
        portal.invited.tool_upstream(invitation.id, "lab")


def test_tools_are_refused_before_the_run_starts(portal: Portal) -> None:
    invitation = invitation_for(portal, "firm-a")
    with pytest.raises(RunStateError, match="start the challenge first"):
        portal.invited.lab_upstream(invitation.id)


def test_tools_are_refused_when_the_run_is_not_running(
    portal: Portal, monkeypatch: pytest.MonkeyPatch
) -> None:
    invitation = invitation_for(portal, "firm-a")
    portal.invited.start(invitation.id)
    published(monkeypatch, portal)
    portal.invited.lab_upstream(invitation.id)  # cached while running...
    portal.invited.tool_upstream(invitation.id, "service")
    portal.invited.submit(invitation.id)
    with pytest.raises(RunStateError, match="graded; its tools are closed"):
        portal.invited.lab_upstream(invitation.id)  # ...but never served once it stopped
    with pytest.raises(RunStateError, match="graded; its tools are closed"):
        portal.invited.tool_upstream(invitation.id, "service")


def test_the_runner_may_report_progress_while_it_is_made(
    settings: Settings, store: Store, tmp_path: Path
) -> None:
    def factory(report: Callable[[str], None]) -> Runner:
        report("building images")  # the real runner reports while it builds images
        return as_runner(FakeRunner(store, tmp_path / "runs", report))

    portal = Portal(settings, store, factory, supervise=lambda *_: 1)
    invitation = invitation_for(portal, "firm-a")
    worker = threading.Thread(target=portal.invited.start, args=(invitation.id,), daemon=True)
    worker.start()
    worker.join(timeout=5)
    assert not worker.is_alive(), "start_invited deadlocked"
    assert portal.records.invitations.get(invitation.id).run_id is not None
