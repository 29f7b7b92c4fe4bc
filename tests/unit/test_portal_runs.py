"""Runs as assessors and the operator see them (runner/portal/runs.py): filtered and sorted
lists, the comparison per challenge, one run in detail, and its review."""

from __future__ import annotations

import io
import tarfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from prodproven.runner.config import Settings
from prodproven.runner.errors import (
    ProdprovenError,
    RunNotFound,
    RunStateError,
    ScopeDenied,
)
from prodproven.runner.lifecycle.core import Runner
from prodproven.runner.portal.access import Actor
from prodproven.runner.portal.core import Portal
from prodproven.runner.portal.runs import RunFilter
from prodproven.runner.runs.store import Status, Store
from prodproven.sandbox.environment import PublishedPort
from prodproven.sandbox.services import MLFLOW, ServiceKind
from tests.unit.fakes import FakeRunner, as_runner
from tests.unit.portalsupport import ADA, BOB, CLI, REASON, ids, run_for


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


def test_an_assessor_cancels_a_run_of_their_firm_with_the_reason_audited(portal: Portal) -> None:
    run = run_for(portal, "firm-a")
    cancelled = portal.runs.cancel(ADA, run.id, "the candidate withdrew")
    assert cancelled.status is Status.cancelled
    entry = portal.records.audit.entries(subject=run.id)[0]
    assert (entry.actor, entry.action) == (ADA.label, "run.cancelled")
    assert entry.data == {"reason": "the candidate withdrew"}


def test_a_run_of_another_firm_or_without_the_review_scope_cannot_be_cancelled(
    portal: Portal,
) -> None:
    run = run_for(portal, "firm-a")
    with pytest.raises(RunNotFound):
        portal.runs.cancel(BOB, run.id, "not mine")
    with pytest.raises(ScopeDenied):
        portal.runs.cancel(Actor(ADA.label, "firm-a", ("read",)), run.id, "read only")
    assert portal.records.store.get(run.id).status is Status.running


# a submitted run's services, read-only -------------------------------------------------------
@dataclass
class FakeViews:
    """What the portal asks of ``Runner.views``: the kind of a service that can be opened."""

    store: Store
    asked: list[tuple[str, str]] = field(default_factory=list)

    def kind(self, run_id: str, name: str) -> ServiceKind:
        self.asked.append((run_id, name))
        if not self.store.get(run_id).service_archives:
            raise RunStateError(f"run {run_id} has no service archives")
        if name != "mlflow":
            raise RunNotFound(f"run {run_id} has no service {name!r} to open (it has: mlflow)")
        return MLFLOW


@dataclass
class ViewingRunner(FakeRunner):
    """A fake runner whose view of a run is on ``port`` (a new port: the view was reopened)."""

    views: FakeViews = field(init=False)
    port: int = 40001

    def __post_init__(self) -> None:
        self.views = FakeViews(self.store)

    def view_service(self, run_id: str, name: str) -> PublishedPort:
        self.calls.append(("view_service", (run_id, name)))
        return PublishedPort(MLFLOW.port, "127.0.0.1", self.port)


@pytest.fixture
def viewing(settings: Settings, store: Store, tmp_path: Path) -> tuple[Portal, ViewingRunner]:
    fake = ViewingRunner(store, tmp_path / "runs")

    def factory(_report: Callable[[str], None]) -> Runner:
        return as_runner(fake)

    return Portal(settings, store, runner=factory), fake


def graded_with_mlflow(portal: Portal, firm: str | None) -> str:
    run = run_for(portal, firm, score=80.0)
    archives = {"mlflow": {"path": "/data/runs/x/services/mlflow.tar", "sha256": "0" * 64}}
    portal.records.store.update(run.id, service_archives=archives)
    return run.id


def test_an_assessor_opens_a_graded_runs_mlflow_read_only(
    viewing: tuple[Portal, ViewingRunner],
) -> None:
    portal, fake = viewing
    run_id = graded_with_mlflow(portal, "firm-a")
    tool = portal.runs.tool_view(ADA, run_id, "mlflow")
    assert (tool.run_id, tool.name, tool.port) == (run_id, "mlflow", 40001)
    assert tool.allows("GET", "/#/models")
    assert tool.allows("POST", "/ajax-api/2.0/mlflow/runs/search")
    assert not tool.allows("POST", "/ajax-api/2.0/mlflow/experiments/create")
    assert tool.trusted == MLFLOW.trusted_ui  # only MLflow's own UI is served unsandboxed
    assert fake.called("view_service") == [(run_id, "mlflow")]


def test_the_operator_opens_a_run_of_any_firm(viewing: tuple[Portal, ViewingRunner]) -> None:
    portal, _ = viewing
    run_id = graded_with_mlflow(portal, "firm-b")
    assert portal.runs.tool_view(CLI, run_id, "mlflow").port == 40001


def test_a_run_of_another_firm_or_without_the_read_scope_opens_nothing(
    viewing: tuple[Portal, ViewingRunner],
) -> None:
    portal, fake = viewing
    run_id = graded_with_mlflow(portal, "firm-a")
    with pytest.raises(RunNotFound, match="no run"):
        portal.runs.tool_view(BOB, run_id, "mlflow")
    with pytest.raises(ScopeDenied):
        portal.runs.tool_view(Actor(ADA.label, "firm-a", ("review",)), run_id, "mlflow")
    assert fake.called("view_service") == [] and fake.views.asked == []


def test_an_unknown_service_is_not_found_with_the_known_ones_named(
    viewing: tuple[Portal, ViewingRunner],
) -> None:
    portal, fake = viewing
    run_id = graded_with_mlflow(portal, "firm-a")
    with pytest.raises(RunNotFound, match=r"no service 'jupyter' to open \(it has: mlflow\)"):
        portal.runs.tool_view(ADA, run_id, "jupyter")
    assert fake.called("view_service") == []


def test_a_run_without_archives_cannot_be_opened(viewing: tuple[Portal, ViewingRunner]) -> None:
    portal, _ = viewing
    running = run_for(portal, "firm-a")
    with pytest.raises(RunStateError):
        portal.runs.tool_view(ADA, running.id, "mlflow")


def test_repeated_requests_look_the_kind_up_once_and_audit_once_per_actor_and_opening(
    viewing: tuple[Portal, ViewingRunner],
) -> None:
    portal, fake = viewing
    run_id = graded_with_mlflow(portal, "firm-a")
    for _ in range(3):
        portal.runs.tool_view(ADA, run_id, "mlflow")
    portal.runs.tool_view(CLI, run_id, "mlflow")
    fake.port = 40002  # the view was closed when idle and opened again
    assert portal.runs.tool_view(ADA, run_id, "mlflow").port == 40002
    assert fake.views.asked == [(run_id, "mlflow")]
    assert len(fake.called("view_service")) == 5  # each request reaches the (cheap) view
    audit = portal.records.audit.entries(subject=run_id)[::-1]  # oldest first
    assert [e.actor for e in audit] == [ADA.label, CLI.label, ADA.label]
    assert [(e.action, e.data) for e in audit] == [
        ("run.service_viewed", {"service": "mlflow"})
    ] * 3
