"""The portal: what assessors, candidates and the CLI operator do, each checked against the
actor's scopes and firm. A run belongs to the firm of its invitation, else to the
installation's firm; an actor never sees a run of another firm."""

from __future__ import annotations

import io
import tarfile
import threading
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace
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
from prodproven.runner.portal.core import Actor, Portal, RunFilter
from prodproven.runner.runs.lifecycle import RunPaths
from prodproven.runner.runs.store import Run, Status, Store, utcnow

ADA = Actor("ada@a.example", "firm-a")
BOB = Actor("bob@b.example", "firm-b")
CLI = Actor("cli:x", None)
REASON = "the load test hit a noisy neighbour"


class FakeRunner:
    """Stands in for runs.lifecycle.Runner: moves runs through the store, no containers."""

    def __init__(self, store: Store, root: Path, report) -> None:
        self.store = store
        self.root = root
        self.report = report
        self.calls: list[tuple[str, Any]] = []
        self.fail_after_create = False
        self.score = 80.0
        self.seen_while_starting: list[Any] = []
        self.on_progress = lambda: None

    def start(self, challenge, candidate, mode="interactive", variant=None, on_created=None):
        self.calls.append(("start", (challenge.id, candidate, variant)))
        run = self.store.create_run(
            challenge_id=challenge.id,
            challenge_version=challenge.spec.version,
            challenge_path=str(challenge.root),
            candidate=candidate,
            mode=mode,
            variant=variant,
        )
        if on_created is not None:
            on_created(run)
        self.store.transition(run.id, Status.provisioning)
        self.report(f"building images for {challenge.id}")
        self.on_progress()
        if self.fail_after_create:
            self.store.transition(run.id, Status.errored, error="no engine")
            raise ContainerError("the workspace could not be created")
        return self.store.transition(run.id, Status.running, deadline=utcnow() + timedelta(hours=2))

    def paths(self, run_id: str) -> RunPaths:
        return RunPaths(self.root / run_id)

    def event(self, run_id: str, kind: str, data: dict[str, Any]) -> None:
        self.calls.append(("event", (run_id, kind, data)))
        self.store.add_event(run_id, kind, data)

    def submit(self, run_id: str) -> Run:
        self.calls.append(("submit", run_id))
        return self.store.transition(run_id, Status.submitted, submitted_at=utcnow())

    def grade(self, run_id: str) -> Run:
        self.calls.append(("grade", run_id))
        self.store.transition(run_id, Status.grading)
        return self.store.transition(
            run_id,
            Status.graded,
            score=self.score,
            result={"score": self.score, "graders": []},
            graded_at=utcnow(),
        )

    def lab(self, run_id: str) -> SimpleNamespace:
        self.calls.append(("lab", run_id))
        return SimpleNamespace(url=f"http://127.0.0.1:9999/lab?token=t-{run_id}")

    def forward(self, run_id: str, name: str) -> SimpleNamespace:
        self.calls.append(("forward", (run_id, name)))
        return SimpleNamespace(url=f"http://127.0.0.1:9998/{name}")

    def called(self, name: str) -> list[Any]:
        return [args for method, args in self.calls if method == name]


@pytest.fixture
def settings(tmp_path) -> Settings:
    return Settings.from_env({}, data_dir=tmp_path)


@pytest.fixture
def store(tmp_path) -> Store:
    return Store(f"sqlite:///{tmp_path}/s.db")


@pytest.fixture
def runners() -> list[FakeRunner]:
    """Every runner the portal made (it should make one)."""
    return []


@pytest.fixture
def supervised() -> list[tuple[Settings, str, Path]]:
    return []


@pytest.fixture
def portal(settings, store, tmp_path, runners, supervised) -> Portal:
    def factory(report):
        runner = FakeRunner(store, tmp_path / "runs", report)
        runners.append(runner)
        return runner

    def supervise(settings: Settings, run_id: str, log: Path) -> int:
        supervised.append((settings, run_id, log))
        return 4242

    return Portal(settings, store, runner=factory, supervise=supervise)


def fake(portal: Portal) -> FakeRunner:
    runner = portal.runner()
    assert isinstance(runner, FakeRunner)
    return runner


def invitation_for(portal: Portal, firm: str, candidate: str = "Grace", **kw: Any):
    invitation, _ = portal.invitations.create(
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
    graders: dict[str, float | None] | None = None,
) -> Run:
    """A run of ``firm``'s invitation (None: started from the CLI), graded with ``score``."""
    store = portal.store
    run = store.create_run(
        challenge_id=challenge,
        challenge_version="1.0.0",
        challenge_path=f"/challenges/{challenge}",
        candidate=candidate,
        mode="interactive",
    )
    if firm is not None:
        portal.invitations.attach_run(invitation_for(portal, firm, candidate).id, run.id)
    store.transition(run.id, Status.provisioning)
    run = store.transition(run.id, Status.running)
    if score is not None:
        result = {
            "score": score,
            "graders": [{"name": n, "score": s} for n, s in (graders or {}).items()],
        }
        for status in (Status.submitted, Status.grading):
            store.transition(run.id, status)
        run = store.transition(run.id, Status.graded, score=score, result=result)
    return run


def ids(summaries) -> list[str]:
    return [s.run.id for s in summaries]


# firms ----------------------------------------------------------------------------------------
def test_an_assessor_never_sees_a_run_of_another_firm(portal):
    theirs = run_for(portal, "firm-b")
    with pytest.raises(RunNotFound):
        portal.visible_run(ADA, theirs.id)
    assert portal.runs(ADA) == []
    assert portal.visible_run(BOB, theirs.id) == theirs


def test_another_firms_run_looks_exactly_like_a_run_that_does_not_exist(portal):
    theirs = run_for(portal, "firm-b")
    with pytest.raises(RunNotFound) as hidden:
        portal.visible_run(ADA, theirs.id)
    with pytest.raises(RunNotFound) as missing:
        portal.visible_run(ADA, "0123456789")
    assert str(hidden.value) == str(missing.value).replace("0123456789", theirs.id)


def test_runs_lists_only_the_actors_firm(portal):
    ours = run_for(portal, "firm-a", "Grace")
    run_for(portal, "firm-b", "Linus")
    run_for(portal, None, "Ken")
    [summary] = portal.runs(ADA)
    assert (summary.run.id, summary.firm) == (ours.id, "firm-a")


def test_the_cli_operator_sees_the_runs_of_every_firm(portal):
    runs = [run_for(portal, "firm-a"), run_for(portal, "firm-b"), run_for(portal, None)]
    assert set(ids(portal.runs(CLI))) == {r.id for r in runs}
    for run in runs:
        assert portal.visible_run(CLI, run.id) == run


def test_runs_started_from_the_cli_belong_to_the_installations_firm(portal):
    run = run_for(portal, None)
    [summary] = portal.runs(CLI)
    assert summary.firm == portal.settings.firm == "default"
    assert portal.visible_run(Actor("dee@default.example", "default"), run.id) == run
    with pytest.raises(RunNotFound):
        portal.visible_run(ADA, run.id)


def test_a_note_or_override_on_another_firms_run_is_not_found(portal):
    theirs = run_for(portal, "firm-b", score=70.0)
    with pytest.raises(RunNotFound):
        portal.note(ADA, theirs.id, "looks fine")
    with pytest.raises(RunNotFound):
        portal.override(ADA, theirs.id, 90.0, REASON)
    assert portal.reviews.for_run(theirs.id) == []


def test_detail_of_another_firms_run_is_not_found(portal):
    theirs = run_for(portal, "firm-b", score=70.0)
    with pytest.raises(RunNotFound):
        portal.detail(ADA, theirs.id)


# scopes ---------------------------------------------------------------------------------------
def test_a_token_without_the_review_scope_cannot_note_or_override(portal):
    run = run_for(portal, "firm-a", score=70.0)
    reader = Actor(ADA.label, "firm-a", ("read", "invite"))
    with pytest.raises(ScopeDenied, match="review"):
        portal.note(reader, run.id, "looks fine")
    with pytest.raises(ScopeDenied, match="review"):
        portal.override(reader, run.id, 90.0, REASON)
    assert portal.reviews.for_run(run.id) == []


def test_a_token_without_the_invite_scope_cannot_invite_or_revoke(portal):
    invitation = invitation_for(portal, "firm-a")
    reviewer = Actor(ADA.label, "firm-a", ("read", "review"))
    with pytest.raises(ScopeDenied, match="invite"):
        portal.invite(reviewer, "deploy-model", "Grace", "grace@example.org")
    with pytest.raises(ScopeDenied, match="invite"):
        portal.revoke(reviewer, invitation.id)
    assert portal.invitations.list() == [invitation]


def test_a_token_without_the_read_scope_cannot_list_or_see_runs(portal):
    run = run_for(portal, "firm-a")
    inviter = Actor(ADA.label, "firm-a", ("invite",))
    with pytest.raises(ScopeDenied, match="read"):
        portal.runs(inviter)
    with pytest.raises(ScopeDenied, match="read"):
        portal.visible_run(inviter, run.id)
    with pytest.raises(ScopeDenied, match="read"):
        portal.invitations_of(inviter)


def test_scope_denied_is_a_kind_of_access_denied():
    with pytest.raises(AccessDenied):
        Actor("x", "firm-a", ()).require("read")


# filters and sorting --------------------------------------------------------------------------
def test_runs_are_filtered_by_challenge(portal):
    deploy = run_for(portal, "firm-a", challenge="deploy-model")
    run_for(portal, "firm-a", challenge="fix-drift")
    assert ids(portal.runs(ADA, RunFilter(challenge="deploy-model"))) == [deploy.id]


def test_runs_are_filtered_by_a_case_insensitive_candidate_substring(portal):
    grace = run_for(portal, "firm-a", "Grace Hopper")
    run_for(portal, "firm-a", "Linus")
    assert ids(portal.runs(ADA, RunFilter(candidate="hOPP"))) == [grace.id]


def test_runs_are_filtered_by_status(portal):
    graded = run_for(portal, "firm-a", score=50.0)
    run_for(portal, "firm-a")
    assert ids(portal.runs(ADA, RunFilter(status="graded"))) == [graded.id]
    assert len(portal.runs(ADA, RunFilter(status="running"))) == 1


def test_min_score_filters_on_the_overridden_score(portal):
    raised = run_for(portal, "firm-a", "Grace", score=40.0)
    lowered = run_for(portal, "firm-a", "Linus", score=90.0)
    run_for(portal, "firm-a", "Ken")  # not graded: no score, never above a minimum
    portal.override(ADA, raised.id, 85.0, REASON)
    portal.override(ADA, lowered.id, 30.0, REASON)
    [summary] = portal.runs(ADA, RunFilter(min_score=80.0))
    assert summary.run.id == raised.id
    assert (summary.score.score, summary.score.graded) == (85.0, 40.0)


def test_sorting_by_score_descending_puts_unscored_runs_last(portal):
    low = run_for(portal, "firm-a", "A", score=40.0)
    unscored = run_for(portal, "firm-a", "B")
    high = run_for(portal, "firm-a", "C", score=90.0)
    mid = run_for(portal, "firm-a", "D", score=20.0)
    portal.override(ADA, mid.id, 60.0, REASON)  # the effective score decides the order
    found = portal.runs(ADA, RunFilter(sort="score"))
    assert ids(found) == [high.id, mid.id, low.id, unscored.id]


def test_sorting_by_score_ascending_puts_lowest_first(portal):
    low = run_for(portal, "firm-a", "A", score=40.0)
    high = run_for(portal, "firm-a", "C", score=90.0)
    found = portal.runs(ADA, RunFilter(sort="score", descending=False))
    assert ids(found) == [low.id, high.id]


def test_sorting_by_candidate_ignores_case(portal):
    bob = run_for(portal, "firm-a", "bob")
    alice = run_for(portal, "firm-a", "Alice")
    carl = run_for(portal, "firm-a", "Carl")
    found = portal.runs(ADA, RunFilter(sort="candidate", descending=False))
    assert ids(found) == [alice.id, bob.id, carl.id]


def test_runs_are_sorted_newest_first_by_default(portal):
    first = run_for(portal, "firm-a")
    second = run_for(portal, "firm-a")
    third = run_for(portal, "firm-a")
    assert ids(portal.runs(ADA)) == [third.id, second.id, first.id]
    oldest_first = portal.runs(ADA, RunFilter(sort="created", descending=False))
    assert ids(oldest_first) == [first.id, second.id, third.id]


def test_an_unknown_sort_is_refused(portal):
    with pytest.raises(ProdprovenError, match="cannot sort"):
        portal.runs(ADA, RunFilter(sort="salary"))


# compare --------------------------------------------------------------------------------------
def test_compare_lists_each_runs_grader_scores_best_first(portal):
    first = run_for(
        portal, "firm-a", "A", score=60.0, graders={"correctness": 80.0, "latency": 40.0}
    )
    second = run_for(
        portal, "firm-a", "B", score=90.0, graders={"correctness": 100.0, "robustness": None}
    )
    run_for(portal, "firm-a", "C", challenge="fix-drift", score=99.0, graders={"drift": 99.0})
    run_for(portal, "firm-b", "D", score=10.0, graders={"correctness": 10.0})
    comparison = portal.compare(ADA, "deploy-model")
    assert comparison.challenge == "deploy-model"
    assert set(comparison.graders) == {"correctness", "latency", "robustness"}
    assert [(summary.run.id, scores) for summary, scores in comparison.rows] == [
        (second.id, {"correctness": 100.0, "robustness": None}),
        (first.id, {"correctness": 80.0, "latency": 40.0}),
    ]


# detail ---------------------------------------------------------------------------------------
def test_detail_gathers_the_runs_reviews_invitation_audit_and_files(portal, tmp_path):
    run = run_for(portal, "firm-a", score=70.0)
    archive = tmp_path / "workspace.tar"
    with tarfile.open(archive, "w") as tar:
        info = tarfile.TarInfo("./serve.py")
        info.size = 3
        tar.addfile(info, io.BytesIO(b"x=1"))
    portal.store.update(run.id, archive_path=str(archive))
    note = portal.note(ADA, run.id, "clean code")
    override = portal.override(ADA, run.id, 75.0, REASON)
    detail = portal.detail(ADA, run.id)
    assert detail.firm == "firm-a"
    assert detail.document["run_id"] == run.id
    assert (detail.score.score, detail.score.graded) == (75.0, 70.0)
    assert detail.reviews == [note, override]
    assert detail.invitation is not None and detail.invitation.run_id == run.id
    assert [e.action for e in detail.audit] == ["review.override", "review.note"]
    assert [f.path for f in detail.files] == ["serve.py"]
    assert [e.kind for e in detail.events][0] == "run.created"


# reviews --------------------------------------------------------------------------------------
def test_a_note_and_an_override_are_recorded_under_the_actors_label(portal):
    run = run_for(portal, "firm-a", score=70.0)
    assert portal.note(ADA, run.id, "clean code").author == ADA.label
    assert portal.override(ADA, run.id, 75.0, REASON).author == ADA.label


# invitations ----------------------------------------------------------------------------------
def test_an_invitation_belongs_to_the_inviting_firm_and_is_audited(portal):
    invitation, link = portal.invite(ADA, "deploy-model", "Grace", "grace@example.org")
    assert invitation.firm == "firm-a"
    assert invitation.created_by == ADA.label
    assert invitation.expires_at - invitation.created_at == timedelta(days=7)
    token = link.removeprefix(f"{portal.settings.base_url}/i/")
    assert token != link and portal.invitations.find(token) == invitation
    [entry] = portal.audit.entries(subject=invitation.id)
    assert (entry.actor, entry.action) == (ADA.label, "invitation.created")
    assert entry.data == {"challenge": "deploy-model", "candidate": "grace@example.org"}


def test_an_invitation_from_the_cli_belongs_to_the_installations_firm(portal):
    invitation, _ = portal.invite(CLI, "deploy-model", "Grace", "grace@example.org", days=1)
    assert invitation.firm == "default"
    assert invitation.expires_at - invitation.created_at == timedelta(days=1)


def test_an_invitation_to_an_unknown_challenge_is_refused(portal):
    with pytest.raises(ChallengeNotFound):
        portal.invite(ADA, "no-such-challenge", "Grace", "grace@example.org")
    assert portal.invitations.list() == []


def test_an_assessor_lists_only_the_invitations_of_their_firm(portal):
    ours = invitation_for(portal, "firm-a")
    theirs = invitation_for(portal, "firm-b")
    assert portal.invitations_of(ADA) == [ours]
    assert {i.id for i in portal.invitations_of(CLI)} == {ours.id, theirs.id}


def test_revoking_an_invitation_of_the_own_firm_is_audited(portal):
    invitation = invitation_for(portal, "firm-a")
    portal.revoke(ADA, invitation.id)
    assert portal.invitations.get(invitation.id).state == "revoked"
    [entry] = portal.audit.entries(subject=invitation.id)
    assert (entry.actor, entry.action) == (ADA.label, "invitation.revoked")


def test_revoking_another_firms_invitation_is_refused(portal):
    theirs = invitation_for(portal, "firm-b")
    with pytest.raises(InvitationError) as refused:
        portal.revoke(ADA, theirs.id)
    with pytest.raises(InvitationError) as missing:
        portal.revoke(ADA, "nope")
    assert str(refused.value) == str(missing.value).replace("'nope'", repr(theirs.id))
    assert portal.invitations.get(theirs.id).revoked_at is None
    assert portal.audit.entries(subject=theirs.id) == []


# candidates: start ----------------------------------------------------------------------------
def test_start_invited_attaches_the_run_to_the_invitation(portal):
    invitation = invitation_for(portal, "firm-a", variant=7)
    run = portal.start_invited(invitation.id)
    assert run.status is Status.running
    assert (run.challenge_id, run.candidate, run.variant) == ("deploy-model", "Grace", 7)
    assert portal.invitations.get(invitation.id).run_id == run.id
    assert portal.visible_run(ADA, run.id).id == run.id


def test_start_invited_records_the_start_in_the_audit_log(portal):
    invitation = invitation_for(portal, "firm-a")
    run = portal.start_invited(invitation.id)
    [entry] = portal.audit.entries(subject=run.id)
    assert entry.actor == f"candidate:{invitation.candidate_email}"
    assert entry.action == "run.started"
    assert entry.data == {"invitation": invitation.id}


def test_start_invited_spawns_one_supervisor_and_records_it(portal, settings, supervised):
    invitation = invitation_for(portal, "firm-a")
    run = portal.start_invited(invitation.id)
    log = fake(portal).paths(run.id).root / "supervisor.log"
    assert supervised == [(settings, run.id, log)]
    assert fake(portal).called("event") == [
        (run.id, "supervisor.spawned", {"pid": 4242, "log": str(log)})
    ]


def test_a_run_that_fails_to_start_stays_recorded_and_can_be_retried(portal, supervised):
    invitation = invitation_for(portal, "firm-a")
    fake(portal).fail_after_create = True
    with pytest.raises(ContainerError):
        portal.start_invited(invitation.id)
    failed = portal.invitations.get(invitation.id).run_id
    assert failed is not None
    assert portal.store.get(failed).status is Status.errored
    assert [e.action for e in portal.audit.entries(subject=failed)] == ["run.started"]
    assert supervised == []
    fake(portal).fail_after_create = False
    retried = portal.start_invited(invitation.id)
    assert retried.id != failed
    assert portal.invitations.get(invitation.id).run_id == retried.id
    assert portal.store.get(failed).status is Status.errored


def test_a_second_start_invited_is_refused(portal, supervised):
    invitation = invitation_for(portal, "firm-a")
    run = portal.start_invited(invitation.id)
    with pytest.raises(RunStateError, match=run.id):
        portal.start_invited(invitation.id)
    assert len(fake(portal).called("start")) == 1
    assert len(supervised) == 1


def test_a_revoked_invitation_cannot_start_a_run(portal):
    invitation = invitation_for(portal, "firm-a")
    portal.invitations.revoke(invitation.id)
    with pytest.raises(AccessDenied, match="revoked"):
        portal.start_invited(invitation.id)
    assert fake(portal).called("start") == []


def test_the_candidate_sees_the_runners_progress_while_starting(portal):
    invitation = invitation_for(portal, "firm-a")
    runner = fake(portal)
    runner.on_progress = lambda: runner.seen_while_starting.append(
        portal.candidate_state(invitation.id).busy
    )
    portal.start_invited(invitation.id)
    assert runner.seen_while_starting == ["building images for deploy-model"]
    assert portal.candidate_state(invitation.id).busy is None


def test_the_candidate_state_counts_down_to_the_deadline(portal):
    invitation = invitation_for(portal, "firm-a")
    assert portal.candidate_state(invitation.id).run is None
    portal.start_invited(invitation.id)
    state = portal.candidate_state(invitation.id)
    assert state.run is not None and state.challenge.id == "deploy-model"
    assert state.remaining_s is not None
    assert 2 * 3600 - 60 < state.remaining_s <= 2 * 3600


def test_the_portal_makes_one_runner(portal, runners):
    first = invitation_for(portal, "firm-a", "Grace")
    second = invitation_for(portal, "firm-a", "Linus")
    portal.start_invited(first.id)
    portal.start_invited(second.id)
    assert len(runners) == 1


# candidates: submit ---------------------------------------------------------------------------
def test_submit_invited_submits_and_grades_the_run(portal):
    invitation = invitation_for(portal, "firm-a")
    run = portal.start_invited(invitation.id)
    graded = portal.submit_invited(invitation.id)
    assert graded.status is Status.graded
    assert fake(portal).called("submit") == [run.id]
    assert fake(portal).called("grade") == [run.id]
    actions = [e.action for e in portal.audit.entries(subject=run.id)]
    assert actions == ["run.submitted", "run.started"]


def test_submit_invited_without_a_run_is_refused(portal):
    invitation = invitation_for(portal, "firm-a")
    with pytest.raises(RunStateError, match="no run"):
        portal.submit_invited(invitation.id)


def test_submit_invited_of_a_submitted_run_only_grades_it(portal):
    invitation = invitation_for(portal, "firm-a")
    run = portal.start_invited(invitation.id)
    portal.store.transition(run.id, Status.submitted)
    assert portal.submit_invited(invitation.id).status is Status.graded
    assert fake(portal).called("submit") == []
    assert fake(portal).called("grade") == [run.id]


# candidates: tools ----------------------------------------------------------------------------
def test_tool_url_asks_the_runner_for_the_lab_each_time_so_a_dead_lab_restarts(portal):
    invitation = invitation_for(portal, "firm-a")
    run = portal.start_invited(invitation.id)
    first = portal.tool_url(invitation.id, "lab")
    second = portal.tool_url(invitation.id, "lab")
    assert first == second == f"http://127.0.0.1:9999/lab?token=t-{run.id}"
    assert fake(portal).called("lab") == [run.id, run.id]


def test_tool_url_forwards_a_named_service(portal):
    invitation = invitation_for(portal, "firm-a", challenge="fix-drift")
    run = portal.start_invited(invitation.id)
    assert portal.tool_url(invitation.id, "mlflow") == "http://127.0.0.1:9998/mlflow"
    assert fake(portal).called("forward") == [(run.id, "mlflow")]
    assert fake(portal).called("lab") == []


def test_tool_url_is_refused_before_the_run_starts(portal):
    invitation = invitation_for(portal, "firm-a")
    with pytest.raises(RunStateError, match="start the challenge first"):
        portal.tool_url(invitation.id, "lab")


def test_tool_url_is_refused_when_the_run_is_not_running(portal):
    invitation = invitation_for(portal, "firm-a")
    portal.start_invited(invitation.id)
    portal.tool_url(invitation.id, "lab")  # cached while running...
    portal.submit_invited(invitation.id)
    with pytest.raises(RunStateError, match="graded; its tools are closed"):
        portal.tool_url(invitation.id, "lab")  # ...but never served once it stopped


def test_the_tools_of_a_challenge_start_with_the_lab(portal):
    tools = portal.tools(portal.challenge("fix-drift"))
    assert tools[0] == "lab"
    assert "mlflow" in tools


def test_the_runner_may_report_progress_while_it_is_made(settings, store, tmp_path):
    def factory(report):
        report("building images")  # the real runner reports while it builds images
        return FakeRunner(store, tmp_path / "runs", report)

    portal = Portal(settings, store, factory, supervise=lambda *_: 1)
    invitation = invitation_for(portal, "firm-a")
    worker = threading.Thread(target=portal.start_invited, args=(invitation.id,), daemon=True)
    worker.start()
    worker.join(timeout=5)
    assert not worker.is_alive(), "start_invited deadlocked"
    assert portal.invitations.get(invitation.id).run_id is not None
