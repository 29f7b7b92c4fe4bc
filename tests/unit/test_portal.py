"""The portal: what assessors, candidates and the CLI operator do, each checked against the
actor's scopes and firm. A run belongs to the firm of its invitation, else to the
installation's firm; an actor never sees a run of another firm."""

from __future__ import annotations

import io
import tarfile
import threading
from collections.abc import Callable, Iterable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from prodproven.runner.config import Settings
from prodproven.runner.errors import (
    AccessDenied,
    ChallengeNotFound,
    ContainerError,
    InvitationError,
    ProdprovenError,
    RunNotFound,
    RunStateError,
    ScopeDenied,
)
from prodproven.runner.lifecycle.core import Runner
from prodproven.runner.people.invitations import Invitation
from prodproven.runner.portal.access import Actor
from prodproven.runner.portal.core import Portal
from prodproven.runner.portal.runs import RunFilter, RunSummary
from prodproven.runner.runs.store import Run, Status, Store
from tests.unit.fakes import FakeRunner, as_runner
from tests.unit.resultsupport import grader_entry

ADA = Actor("ada@a.example", "firm-a")
BOB = Actor("bob@b.example", "firm-b")
CLI = Actor("cli:x", None)
REASON = "the load test hit a noisy neighbour"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings.from_env({}, data_dir=tmp_path)


@pytest.fixture
def runners() -> list[FakeRunner]:
    """Every runner the portal made (it should make one)."""
    return []


@pytest.fixture
def supervised() -> list[tuple[Settings, str, Path]]:
    return []


@pytest.fixture
def portal(
    settings: Settings,
    store: Store,
    tmp_path: Path,
    runners: list[FakeRunner],
    supervised: list[tuple[Settings, str, Path]],
) -> Portal:
    def factory(report: Callable[[str], None]) -> Runner:
        runner = FakeRunner(store, tmp_path / "runs", report)
        runners.append(runner)
        return as_runner(runner)

    def supervise(settings: Settings, run_id: str, log: Path) -> int:
        supervised.append((settings, run_id, log))
        return 4242

    return Portal(settings, store, runner=factory, supervise=supervise)


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


# firms ----------------------------------------------------------------------------------------
def test_an_assessor_never_sees_a_run_of_another_firm(portal: Portal) -> None:
    theirs = run_for(portal, "firm-b")
    with pytest.raises(RunNotFound):
        portal.runs.get(ADA, theirs.id)
    assert portal.runs.find(ADA) == []
    assert portal.runs.get(BOB, theirs.id) == theirs


def test_another_firms_run_looks_exactly_like_a_run_that_does_not_exist(portal: Portal) -> None:
    theirs = run_for(portal, "firm-b")
    with pytest.raises(RunNotFound) as hidden:
        portal.runs.get(ADA, theirs.id)
    with pytest.raises(RunNotFound) as missing:
        portal.runs.get(ADA, "0123456789")
    assert str(hidden.value) == str(missing.value).replace("0123456789", theirs.id)


def test_runs_lists_only_the_actors_firm(portal: Portal) -> None:
    ours = run_for(portal, "firm-a", "Grace")
    run_for(portal, "firm-b", "Linus")
    run_for(portal, None, "Ken")
    [summary] = portal.runs.find(ADA)
    assert (summary.run.id, summary.firm) == (ours.id, "firm-a")


def test_the_cli_operator_sees_the_runs_of_every_firm(portal: Portal) -> None:
    runs = [run_for(portal, "firm-a"), run_for(portal, "firm-b"), run_for(portal, None)]
    assert set(ids(portal.runs.find(CLI))) == {r.id for r in runs}
    for run in runs:
        assert portal.runs.get(CLI, run.id) == run


def test_runs_started_from_the_cli_belong_to_the_installations_firm(portal: Portal) -> None:
    run = run_for(portal, None)
    [summary] = portal.runs.find(CLI)
    assert summary.firm == portal.settings.firm == "default"
    assert portal.runs.get(Actor("dee@default.example", "default"), run.id) == run
    with pytest.raises(RunNotFound):
        portal.runs.get(ADA, run.id)


def test_a_note_or_override_on_another_firms_run_is_not_found(portal: Portal) -> None:
    theirs = run_for(portal, "firm-b", score=70.0)
    with pytest.raises(RunNotFound):
        portal.reviews.note(ADA, theirs.id, "looks fine")
    with pytest.raises(RunNotFound):
        portal.reviews.override(ADA, theirs.id, 90.0, REASON)
    assert portal.records.reviews.for_run(theirs.id) == []


def test_detail_of_another_firms_run_is_not_found(portal: Portal) -> None:
    theirs = run_for(portal, "firm-b", score=70.0)
    with pytest.raises(RunNotFound):
        portal.runs.detail(ADA, theirs.id)


# scopes ---------------------------------------------------------------------------------------
def test_a_token_without_the_review_scope_cannot_note_or_override(portal: Portal) -> None:
    run = run_for(portal, "firm-a", score=70.0)
    reader = Actor(ADA.label, "firm-a", ("read", "invite"))
    with pytest.raises(ScopeDenied, match="review"):
        portal.reviews.note(reader, run.id, "looks fine")
    with pytest.raises(ScopeDenied, match="review"):
        portal.reviews.override(reader, run.id, 90.0, REASON)
    assert portal.records.reviews.for_run(run.id) == []


def test_a_token_without_the_invite_scope_cannot_invite_or_revoke(portal: Portal) -> None:
    invitation = invitation_for(portal, "firm-a")
    reviewer = Actor(ADA.label, "firm-a", ("read", "review"))
    with pytest.raises(ScopeDenied, match="invite"):
        portal.invitations.invite(reviewer, "deploy-model", "Grace", "grace@example.org")
    with pytest.raises(ScopeDenied, match="invite"):
        portal.invitations.revoke(reviewer, invitation.id)
    assert portal.records.invitations.list() == [invitation]


def test_a_token_without_the_read_scope_cannot_list_or_see_runs(portal: Portal) -> None:
    run = run_for(portal, "firm-a")
    inviter = Actor(ADA.label, "firm-a", ("invite",))
    with pytest.raises(ScopeDenied, match="read"):
        portal.runs.find(inviter)
    with pytest.raises(ScopeDenied, match="read"):
        portal.runs.get(inviter, run.id)
    with pytest.raises(ScopeDenied, match="read"):
        portal.invitations.visible(inviter)


def test_scope_denied_is_a_kind_of_access_denied() -> None:
    with pytest.raises(AccessDenied):
        Actor("x", "firm-a", ()).require("read")


# filters and sorting --------------------------------------------------------------------------
def test_runs_are_filtered_by_challenge(portal: Portal) -> None:
    deploy = run_for(portal, "firm-a", challenge="deploy-model")
    run_for(portal, "firm-a", challenge="fix-drift")
    assert ids(portal.runs.find(ADA, RunFilter(challenge="deploy-model"))) == [deploy.id]


def test_runs_are_filtered_by_a_case_insensitive_candidate_substring(portal: Portal) -> None:
    grace = run_for(portal, "firm-a", "Grace Hopper")
    run_for(portal, "firm-a", "Linus")
    assert ids(portal.runs.find(ADA, RunFilter(candidate="hOPP"))) == [grace.id]


def test_runs_are_filtered_by_status(portal: Portal) -> None:
    graded = run_for(portal, "firm-a", score=50.0)
    run_for(portal, "firm-a")
    assert ids(portal.runs.find(ADA, RunFilter(status="graded"))) == [graded.id]
    assert len(portal.runs.find(ADA, RunFilter(status="running"))) == 1


def test_min_score_filters_on_the_overridden_score(portal: Portal) -> None:
    raised = run_for(portal, "firm-a", "Grace", score=40.0)
    lowered = run_for(portal, "firm-a", "Linus", score=90.0)
    run_for(portal, "firm-a", "Ken")  # not graded: no score, never above a minimum
    portal.reviews.override(ADA, raised.id, 85.0, REASON)
    portal.reviews.override(ADA, lowered.id, 30.0, REASON)
    [summary] = portal.runs.find(ADA, RunFilter(min_score=80.0))
    assert summary.run.id == raised.id
    assert (summary.score.score, summary.score.graded) == (85.0, 40.0)


def test_sorting_by_score_descending_puts_unscored_runs_last(portal: Portal) -> None:
    low = run_for(portal, "firm-a", "A", score=40.0)
    unscored = run_for(portal, "firm-a", "B")
    high = run_for(portal, "firm-a", "C", score=90.0)
    mid = run_for(portal, "firm-a", "D", score=20.0)
    portal.reviews.override(ADA, mid.id, 60.0, REASON)  # the effective score decides the order
    found = portal.runs.find(ADA, RunFilter(sort="score"))
    assert ids(found) == [high.id, mid.id, low.id, unscored.id]


def test_sorting_by_score_ascending_puts_lowest_first(portal: Portal) -> None:
    low = run_for(portal, "firm-a", "A", score=40.0)
    high = run_for(portal, "firm-a", "C", score=90.0)
    found = portal.runs.find(ADA, RunFilter(sort="score", descending=False))
    assert ids(found) == [low.id, high.id]


def test_sorting_by_candidate_ignores_case(portal: Portal) -> None:
    bob = run_for(portal, "firm-a", "bob")
    alice = run_for(portal, "firm-a", "Alice")
    carl = run_for(portal, "firm-a", "Carl")
    found = portal.runs.find(ADA, RunFilter(sort="candidate", descending=False))
    assert ids(found) == [alice.id, bob.id, carl.id]


def test_runs_are_sorted_newest_first_by_default(portal: Portal) -> None:
    first = run_for(portal, "firm-a")
    second = run_for(portal, "firm-a")
    third = run_for(portal, "firm-a")
    assert ids(portal.runs.find(ADA)) == [third.id, second.id, first.id]
    oldest_first = portal.runs.find(ADA, RunFilter(sort="created", descending=False))
    assert ids(oldest_first) == [first.id, second.id, third.id]


def test_an_unknown_sort_is_refused(portal: Portal) -> None:
    with pytest.raises(ProdprovenError, match="cannot sort"):
        portal.runs.find(ADA, RunFilter(sort="salary"))


# compare --------------------------------------------------------------------------------------
def test_compare_lists_each_runs_grader_scores_best_first(portal: Portal) -> None:
    first = run_for(
        portal, "firm-a", "A", score=60.0, graders={"correctness": 80.0, "latency": 40.0}
    )
    second = run_for(
        portal, "firm-a", "B", score=90.0, graders={"correctness": 100.0, "robustness": 0.0}
    )
    run_for(portal, "firm-a", "C", challenge="fix-drift", score=99.0, graders={"drift": 99.0})
    run_for(portal, "firm-b", "D", score=10.0, graders={"correctness": 10.0})
    comparison = portal.runs.compare(ADA, "deploy-model")
    assert comparison.challenge == "deploy-model"
    assert set(comparison.graders) == {"correctness", "latency", "robustness"}
    assert [(summary.run.id, scores) for summary, scores in comparison.rows] == [
        (second.id, {"correctness": 100.0, "robustness": 0.0}),
        (first.id, {"correctness": 80.0, "latency": 40.0}),
    ]


# detail ---------------------------------------------------------------------------------------
def test_detail_gathers_the_runs_reviews_invitation_audit_and_files(
    portal: Portal, tmp_path: Path
) -> None:
    run = run_for(portal, "firm-a", score=70.0)
    archive = tmp_path / "workspace.tar"
    with tarfile.open(archive, "w") as tar:
        info = tarfile.TarInfo("./serve.py")
        info.size = 3
        tar.addfile(info, io.BytesIO(b"x=1"))
    portal.records.store.update(run.id, archive_path=str(archive))
    note = portal.reviews.note(ADA, run.id, "clean code")
    override = portal.reviews.override(ADA, run.id, 75.0, REASON)
    detail = portal.runs.detail(ADA, run.id)
    assert detail.firm == "firm-a"
    assert detail.document.run_id == run.id
    assert (detail.score.score, detail.score.graded) == (75.0, 70.0)
    assert detail.reviews == [note, override]
    assert detail.invitation is not None and detail.invitation.run_id == run.id
    assert [e.action for e in detail.audit] == ["review.override", "review.note"]
    assert [f.path for f in detail.files] == ["serve.py"]
    assert [e.kind for e in detail.events][0] == "run.created"


# reviews --------------------------------------------------------------------------------------
def test_a_note_and_an_override_are_recorded_under_the_actors_label(portal: Portal) -> None:
    run = run_for(portal, "firm-a", score=70.0)
    assert portal.reviews.note(ADA, run.id, "clean code").author == ADA.label
    assert portal.reviews.override(ADA, run.id, 75.0, REASON).author == ADA.label


# invitations ----------------------------------------------------------------------------------
def test_an_invitation_belongs_to_the_inviting_firm_and_is_audited(portal: Portal) -> None:
    invitation, link = portal.invitations.invite(ADA, "deploy-model", "Grace", "grace@example.org")
    assert invitation.firm == "firm-a"
    assert invitation.created_by == ADA.label
    assert invitation.expires_at - invitation.created_at == timedelta(days=7)
    token = link.removeprefix(f"{portal.settings.base_url}/i/")
    assert token != link and portal.records.invitations.find(token) == invitation
    [entry] = portal.records.audit.entries(subject=invitation.id)
    assert (entry.actor, entry.action) == (ADA.label, "invitation.created")
    assert entry.data == {"challenge": "deploy-model", "candidate": "grace@example.org"}


def test_an_invitation_from_the_cli_belongs_to_the_installations_firm(portal: Portal) -> None:
    invitation, _ = portal.invitations.invite(
        CLI, "deploy-model", "Grace", "grace@example.org", days=1
    )
    assert invitation.firm == "default"
    assert invitation.expires_at - invitation.created_at == timedelta(days=1)


def test_an_invitation_to_an_unknown_challenge_is_refused(portal: Portal) -> None:
    with pytest.raises(ChallengeNotFound):
        portal.invitations.invite(ADA, "no-such-challenge", "Grace", "grace@example.org")
    assert portal.records.invitations.list() == []


def test_an_assessor_lists_only_the_invitations_of_their_firm(portal: Portal) -> None:
    ours = invitation_for(portal, "firm-a")
    theirs = invitation_for(portal, "firm-b")
    assert portal.invitations.visible(ADA) == [ours]
    assert {i.id for i in portal.invitations.visible(CLI)} == {ours.id, theirs.id}


def test_revoking_an_invitation_of_the_own_firm_is_audited(portal: Portal) -> None:
    invitation = invitation_for(portal, "firm-a")
    portal.invitations.revoke(ADA, invitation.id)
    assert portal.records.invitations.get(invitation.id).state == "revoked"
    [entry] = portal.records.audit.entries(subject=invitation.id)
    assert (entry.actor, entry.action) == (ADA.label, "invitation.revoked")


def test_revoking_another_firms_invitation_is_refused(portal: Portal) -> None:
    theirs = invitation_for(portal, "firm-b")
    with pytest.raises(InvitationError) as refused:
        portal.invitations.revoke(ADA, theirs.id)
    with pytest.raises(InvitationError) as missing:
        portal.invitations.revoke(ADA, "nope")
    assert str(refused.value) == str(missing.value).replace("'nope'", repr(theirs.id))
    assert portal.records.invitations.get(theirs.id).revoked_at is None
    assert portal.records.audit.entries(subject=theirs.id) == []


# candidates: start ----------------------------------------------------------------------------
def test_start_invited_attaches_the_run_to_the_invitation(portal: Portal) -> None:
    invitation = invitation_for(portal, "firm-a", variant=7)
    run = portal.invited.start(invitation.id)
    assert run.status is Status.running
    assert (run.challenge_id, run.candidate, run.variant) == ("deploy-model", "Grace", 7)
    assert portal.records.invitations.get(invitation.id).run_id == run.id
    assert portal.runs.get(ADA, run.id).id == run.id


def test_start_invited_records_the_start_in_the_audit_log(portal: Portal) -> None:
    invitation = invitation_for(portal, "firm-a")
    run = portal.invited.start(invitation.id)
    [entry] = portal.records.audit.entries(subject=run.id)
    assert entry.actor == f"candidate:{invitation.candidate_email}"
    assert entry.action == "run.started"
    assert entry.data == {"invitation": invitation.id}


def test_start_invited_spawns_one_supervisor_and_records_it(
    portal: Portal, settings: Settings, supervised: list[tuple[Settings, str, Path]]
) -> None:
    invitation = invitation_for(portal, "firm-a")
    run = portal.invited.start(invitation.id)
    log = fake(portal).paths(run.id).root / "supervisor.log"
    assert supervised == [(settings, run.id, log)]
    assert fake(portal).called("event") == [
        (run.id, "supervisor.spawned", {"pid": 4242, "log": str(log)})
    ]


def test_a_run_that_fails_to_start_stays_recorded_and_can_be_retried(
    portal: Portal, supervised: list[tuple[Settings, str, Path]]
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


def test_a_second_start_invited_is_refused(
    portal: Portal, supervised: list[tuple[Settings, str, Path]]
) -> None:
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
def test_tool_url_asks_the_runner_for_the_lab_each_time_so_a_dead_lab_restarts(
    portal: Portal,
) -> None:
    invitation = invitation_for(portal, "firm-a")
    run = portal.invited.start(invitation.id)
    first = portal.invited.tool_url(invitation.id, "lab")
    second = portal.invited.tool_url(invitation.id, "lab")
    assert first == second == f"http://127.0.0.1:1/lab?token=t-{run.id}"
    assert fake(portal).called("lab") == [run.id, run.id]


def test_tool_url_forwards_a_named_service(portal: Portal) -> None:
    invitation = invitation_for(portal, "firm-a", challenge="fix-drift")
    run = portal.invited.start(invitation.id)
    assert portal.invited.tool_url(invitation.id, "mlflow") == "http://127.0.0.1:2/mlflow"
    assert fake(portal).called("forward") == [(run.id, "mlflow")]
    assert fake(portal).called("lab") == []


def test_tool_url_is_refused_before_the_run_starts(portal: Portal) -> None:
    invitation = invitation_for(portal, "firm-a")
    with pytest.raises(RunStateError, match="start the challenge first"):
        portal.invited.tool_url(invitation.id, "lab")


def test_tool_url_is_refused_when_the_run_is_not_running(portal: Portal) -> None:
    invitation = invitation_for(portal, "firm-a")
    portal.invited.start(invitation.id)
    portal.invited.tool_url(invitation.id, "lab")  # cached while running...
    portal.invited.submit(invitation.id)
    with pytest.raises(RunStateError, match="graded; its tools are closed"):
        portal.invited.tool_url(invitation.id, "lab")  # ...but never served once it stopped


def test_the_tools_of_a_challenge_start_with_the_lab(portal: Portal) -> None:
    tools = portal.catalogue.tools(portal.catalogue.find("fix-drift"))
    assert tools[0] == "lab"
    assert "mlflow" in tools


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
