"""Runs as assessors and the operator see them: lists, one run in detail, a comparison per
challenge, a submitted run's services opened read-only, and the review of a run (notes and
overrides)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prodproven.runner import plugins
from prodproven.runner.errors import ProdprovenError
from prodproven.runner.grading.result import RunResult, status_document
from prodproven.runner.hookspecs import Figure
from prodproven.runner.lifecycle.core import Runner
from prodproven.runner.lifecycle.views import read_only
from prodproven.runner.people.audit import AuditEntry
from prodproven.runner.people.invitations import Invitation
from prodproven.runner.people.reviews import EffectiveScore, Review
from prodproven.runner.portal.access import Access, Actor, Records
from prodproven.runner.present.plots import run_plots
from prodproven.runner.runs.archives import Entry, entries
from prodproven.runner.runs.store import EventRow, Run

SORTS = ("created", "score", "candidate", "challenge", "status")


@dataclass(frozen=True)
class RunFilter:
    challenge: str | None = None
    candidate: str | None = None
    status: str | None = None
    min_score: float | None = None
    sort: str = "created"
    descending: bool = True


@dataclass(frozen=True)
class RunSummary:
    run: Run
    firm: str
    score: EffectiveScore


@dataclass(frozen=True)
class RunDetail:
    run: Run
    firm: str
    document: RunResult
    score: EffectiveScore
    reviews: list[Review]
    events: list[EventRow]
    plots: list[Figure]
    files: list[Entry]
    invitation: Invitation | None
    audit: list[AuditEntry]


@dataclass(frozen=True)
class Comparison:
    challenge: str
    graders: list[str]
    rows: list[tuple[RunSummary, dict[str, float | None]]]


@dataclass(frozen=True)
class ToolView:
    """A service of a submitted run, restored from its archive, on the host's 127.0.0.1
    ``port``; ``allows(method, path)`` says whether a request only reads (the web proxy
    refuses the others); ``trusted``: the paths of its kind's own UI
    (:attr:`ServiceKind.trusted_ui`), the only answers served without a sandbox."""

    run_id: str
    name: str
    port: int
    allows: Callable[[str, str], bool]
    trusted: tuple[str, ...]


SORT_KEYS: dict[str, Callable[[RunSummary], Any]] = {
    "created": lambda s: s.run.created_at,
    "score": lambda s: (s.score.score is not None, s.score.score or 0.0),
    "candidate": lambda s: s.run.candidate.lower(),
    "challenge": lambda s: s.run.challenge_id,
    "status": lambda s: s.run.status.value,
}


def _matches(query: RunFilter, run: Run, score: EffectiveScore) -> bool:
    if query.challenge and run.challenge_id != query.challenge:
        return False
    if query.candidate and query.candidate.lower() not in run.candidate.lower():
        return False
    if query.status and run.status.value != query.status:
        return False
    return query.min_score is None or (score.score is not None and score.score >= query.min_score)


class RunDesk:
    """The runs an actor may see; ``runner`` gives the process's runner (to cancel)."""

    def __init__(self, records: Records, access: Access, runner: Callable[[], Runner]) -> None:
        self._records = records
        self._access = access
        self._runner = runner
        self._kinds: dict[tuple[str, str], tuple[Callable[[str, str], bool], tuple[str, ...]]] = {}
        """Per (run, service): what a view lets through and which paths it trusts."""
        self._audited: set[tuple[str, str, str, int]] = set()
        self._lock = threading.Lock()

    def get(self, actor: Actor, run_id: str) -> Run:
        """The run, if ``actor`` may see it. Raises RunNotFound otherwise."""
        return self._access.visible_run(actor, run_id)

    def find(
        self, actor: Actor, query: RunFilter = RunFilter(), *, results: bool = False
    ) -> list[RunSummary]:
        """The runs ``actor`` may see, filtered and sorted; their result documents only with
        ``results``."""
        actor.require("read")
        if query.sort not in SORTS:
            raise ProdprovenError(f"cannot sort runs by {query.sort!r}; choose from {SORTS}")
        firms = self._access.firms()
        overrides = self._records.reviews.overrides()
        found = []
        for run in self._records.store.list_runs(results=results):
            firm = self._access.firm_of(run.id, firms)
            latest = overrides.get(run.id)
            score = EffectiveScore(latest.score if latest else run.score, run.score, latest)
            if actor.sees(firm) and _matches(query, run, score):
                found.append(RunSummary(run, firm, score))
        return sorted(found, key=SORT_KEYS[query.sort], reverse=query.descending)

    def detail(self, actor: Actor, run_id: str) -> RunDetail:
        run = self._access.visible_run(actor, run_id)
        archive = Path(run.archive_path) if run.archive_path else None
        records = self._records
        document = status_document(run)
        return RunDetail(
            run=run,
            firm=self._access.firm_of(run.id),
            document=document,
            score=records.reviews.effective(run),
            reviews=records.reviews.for_run(run.id),
            events=records.store.events(run.id),
            plots=run_plots(document, plugins.plots()),
            files=entries(archive) if archive is not None and archive.is_file() else [],
            invitation=records.invitations.for_run(run.id),
            audit=records.audit.entries(subject=run.id),
        )

    def cancel(self, actor: Actor, run_id: str, reason: str) -> Run:
        """End a run that has no result yet (``review`` scope); audited with the reason.
        Raises RunStateError (ended already, no reason), RunBusy."""
        self._access.visible_run(actor, run_id, "review")
        cancelled = self._runner().cancel(run_id, reason)
        self._access.record(actor.label, "run.cancelled", run_id, {"reason": cancelled.error})
        return cancelled

    def tool_view(self, actor: Actor, run_id: str, name: str) -> ToolView:
        """Service ``name`` of a submitted run (e.g. its MLflow), as it was at submit, for
        ``actor`` to look at read-only: the run's view, opened, reused or opened again
        (``Runner.view_service``). Cheap once open, so the web proxy asks on each request;
        audited once per actor and opening. Raises ScopeDenied, RunNotFound (no such run
        visible to ``actor``, or no such service: the message names those there are),
        RunStateError (no archive yet), RunBusy, ArchiveMismatch, SandboxError."""
        self._access.visible_run(actor, run_id)
        runner = self._runner()
        with self._lock:
            known = self._kinds.get((run_id, name))
        if known is None:
            kind = runner.views.kind(run_id, name)
            known = (read_only(kind), kind.trusted_ui)
            with self._lock:
                self._kinds[(run_id, name)] = known
        allows, trusted = known
        published = runner.view_service(run_id, name)
        seen = (actor.label, run_id, name, published.host_port)
        with self._lock:
            first = seen not in self._audited
            self._audited.add(seen)
        if first:
            self._access.record(actor.label, "run.service_viewed", run_id, {"service": name})
        return ToolView(run_id, name, published.host_port, allows, trusted)

    def events(self, actor: Actor, run_id: str) -> list[EventRow]:
        """The run's event log, oldest first."""
        self._access.visible_run(actor, run_id)
        return self._records.store.events(run_id)

    def compare(self, actor: Actor, challenge_id: str) -> Comparison:
        summaries = self.find(actor, RunFilter(challenge=challenge_id, sort="score"), results=True)
        graders: list[str] = []
        rows = []
        for summary in summaries:
            scores: dict[str, float | None] = {}
            for grader in status_document(summary.run).graders:
                if grader.name not in graders:
                    graders.append(grader.name)
                scores[grader.name] = grader.score
            rows.append((summary, scores))
        return Comparison(challenge_id, graders, rows)


class ReviewDesk:
    """Notes and overrides on the runs an actor may see (``review`` scope)."""

    def __init__(self, records: Records, access: Access) -> None:
        self._records = records
        self._access = access

    def note(self, actor: Actor, run_id: str, text: str) -> Review:
        self._access.visible_run(actor, run_id, "review")
        return self._records.reviews.note(run_id, actor.label, text)

    def override(self, actor: Actor, run_id: str, score: float, reason: str) -> Review:
        self._access.visible_run(actor, run_id, "review")
        return self._records.reviews.override(run_id, actor.label, score, reason)
