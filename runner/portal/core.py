"""What people do through the web app, the API and the CLI, in one place: invite, take a
challenge, list and review runs. Every operation takes the Actor asking, checks its scope and
firm, and records itself in the audit log; the web layer only translates HTTP.

A run belongs to the firm of the invitation it was started from, else to the installation's
``firm`` setting (runs started with the CLI). An actor never learns that a run of another firm
exists: such a run is "not found".
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

from prodproven.runner import plugins
from prodproven.runner.config import Settings
from prodproven.runner.credentials.issuer_key import issuer_key
from prodproven.runner.credentials.issuing import (
    Evidence,
    Issued,
    Register,
    Subject,
    Verdict,
    bundle_sha256,
)
from prodproven.runner.errors import (
    CandidateNotFound,
    InvitationError,
    ProdprovenError,
    RunNotFound,
    RunStateError,
    ScopeDenied,
)
from prodproven.runner.grading.result import status_document
from prodproven.runner.people import track_record
from prodproven.runner.people.accounts import SCOPES, Accounts, Assessor
from prodproven.runner.people.audit import Audit, AuditEntry
from prodproven.runner.people.candidates import Candidate, Candidates, Forgotten
from prodproven.runner.people.invitations import Invitation, Invitations
from prodproven.runner.people.reviews import EffectiveScore, Review, Reviews
from prodproven.runner.present.plots import Plot, run_plots, track_record_plot
from prodproven.runner.runs import supervisor
from prodproven.runner.runs.archives import Entry, entries
from prodproven.runner.runs.lifecycle import Runner
from prodproven.runner.runs.store import EventRow, Run, Status, Store, utcnow
from prodproven.runner.spec.challenge import (
    Challenge,
    find_challenge,
    list_challenges,
    load_challenge,
)


@dataclass(frozen=True)
class Actor:
    """Who asks: an assessor (``label`` is their email) or the operator at the CLI, who sees
    every firm (``firm`` None)."""

    label: str
    firm: str | None
    scopes: tuple[str, ...] = SCOPES

    def require(self, scope: str) -> None:
        if scope not in self.scopes:
            raise ScopeDenied(f"this credential lacks the {scope!r} scope")

    def sees(self, firm: str) -> bool:
        return self.firm is None or self.firm == firm

    @classmethod
    def of(cls, assessor: Assessor, scopes: tuple[str, ...] = SCOPES) -> Actor:
        return cls(assessor.email, assessor.firm, scopes)


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
    document: dict[str, Any]
    score: EffectiveScore
    reviews: list[Review]
    events: list[EventRow]
    plots: list[Plot]
    files: list[Entry]
    invitation: Invitation | None
    audit: list[AuditEntry]


@dataclass(frozen=True)
class Comparison:
    challenge: str
    graders: list[str]
    rows: list[tuple[RunSummary, dict[str, float | None]]]


@dataclass(frozen=True)
class LabUpstream:
    """A run's JupyterLab as the web app's proxy reaches it: ``127.0.0.1:port``, ``token``."""

    run_id: str
    port: int
    token: str


@dataclass(frozen=True)
class CandidateRecord:
    candidate: Candidate
    runs: list[Run]
    record: dict[str, tuple[track_record.Standing, list[tuple[datetime, float]]]]

    def chart(self) -> str:
        """The competencies' history as SVG (empty without runs)."""
        if not self.runs:
            return ""
        history = {c: points for c, (_, points) in self.record.items()}
        return track_record_plot(history, self.runs[0].created_at)


@dataclass
class CandidateState:
    """What the candidate's page shows; ``remaining_s`` counts down to the server's deadline."""

    invitation: Invitation
    challenge: Challenge
    run: Run | None
    remaining_s: float | None
    busy: str | None
    """What the server is doing for this candidate right now, if anything."""
    can_start: bool
    """No run yet, or only one that failed before it ever ran."""


class Portal:
    """The operations behind the web app, its API and the people-facing CLI commands."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        runner: Callable[[Callable[[str], None]], Runner],
        supervise: Callable[[Settings, str, Path], int] = supervisor.spawn,
    ) -> None:
        self.settings = settings
        self._supervise = supervise
        self.store = store
        self._runner = runner
        self.accounts = Accounts(store)
        self.invitations = Invitations(store)
        self.audit = Audit(store)
        self.reviews = Reviews(store, self.audit)
        self._busy: dict[str, str] = {}
        self._lock = threading.Lock()
        self._runner_lock = threading.Lock()
        self._local = threading.local()
        self._the_runner: Runner | None = None
        self._labs: dict[str, LabUpstream] = {}
        self._lab_lookups: dict[str, threading.Lock] = {}
        self.credentials = Register(store, self.audit, partial(issuer_key, settings.data_dir))
        self.candidates = Candidates(store, self.audit, settings.data_dir / "runs")

    def runner(self) -> Runner:
        """The one runner of this process (made on first use: it needs the Docker engine).
        Its progress lines are shown to whoever watches the job running on this thread."""
        with self._runner_lock:
            if self._the_runner is None:
                self._the_runner = self._runner(self._progress)
            return self._the_runner

    def _progress(self, line: str) -> None:
        key = getattr(self._local, "key", None)
        if key is not None:
            with self._lock:
                self._busy[key] = line

    @contextmanager
    def _working(self, key: str, what: str) -> Iterator[None]:
        self._local.key = key
        self._progress(what)
        try:
            yield
        finally:
            self._local.key = None
            with self._lock:
                self._busy.pop(key, None)

    # challenges -------------------------------------------------------------------------------
    def challenge(self, ref: str) -> Challenge:
        return find_challenge(ref, self.settings.challenge_dirs, plugins.catalog())

    def challenges(self) -> list[Challenge]:
        found = list_challenges(self.settings.challenge_dirs, plugins.catalog())
        return [c for c in found if isinstance(c, Challenge)]

    # invitations ------------------------------------------------------------------------------
    def invite(
        self,
        actor: Actor,
        challenge_ref: str,
        candidate_name: str,
        candidate_email: str,
        days: float | None = None,
        variant: int | None = None,
    ) -> tuple[Invitation, str]:
        """A new invitation and its single-use link (shown only now)."""
        actor.require("invite")
        challenge = self.challenge(challenge_ref)
        invitation, token = self.invitations.create(
            firm=actor.firm or self.settings.firm,
            challenge_id=challenge.id,
            candidate_name=candidate_name,
            candidate_email=candidate_email,
            created_by=actor.label,
            lifetime=timedelta(days=days if days is not None else self.settings.invitation_days),
            variant=variant,
        )
        self.audit.record(
            actor.label,
            "invitation.created",
            invitation.id,
            {"challenge": challenge.id, "candidate": invitation.candidate_email},
        )
        self.candidates.ensure(candidate_name, candidate_email)
        return invitation, self.link(token)

    def link(self, token: str) -> str:
        return f"{self.settings.base_url}/i/{token}"

    def revoke(self, actor: Actor, invitation_id: str) -> None:
        actor.require("invite")
        if not actor.sees(self.invitations.get(invitation_id).firm):
            raise InvitationError(f"no invitation {invitation_id!r}")
        self.invitations.revoke(invitation_id)
        self.audit.record(actor.label, "invitation.revoked", invitation_id)

    def invitations_of(self, actor: Actor) -> list[Invitation]:
        actor.require("read")
        return self.invitations.list(firm=actor.firm)

    # candidates -------------------------------------------------------------------------------
    def candidate_state(self, invitation_id: str) -> CandidateState:
        invitation = self.invitations.usable(invitation_id)
        run = self.store.get(invitation.run_id) if invitation.run_id else None
        remaining = None
        if run is not None and run.status == Status.running and run.deadline is not None:
            remaining = max(0.0, (run.deadline - utcnow()).total_seconds())
        with self._lock:
            busy = self._busy.get(invitation.id)
        return CandidateState(
            invitation=invitation,
            challenge=self.challenge(invitation.challenge_id),
            run=run,
            remaining_s=remaining,
            busy=busy,
            can_start=run is None or self._never_ran(run.id),
        )

    def start_invited(self, invitation_id: str) -> Run:
        """Start the invitation's run (blocking: minutes when images must be built) and its
        supervisor. A run that failed before it ever ran (say, the engine was down) is kept
        for the record and replaced. Raises RunStateError when the invitation has a run."""
        invitation = self.invitations.usable(invitation_id)
        if invitation.run_id is not None and not self._never_ran(invitation.run_id):
            raise RunStateError(f"invitation {invitation.id} already has run {invitation.run_id}")
        challenge = self.challenge(invitation.challenge_id)
        with self._working(invitation.id, "starting your workspace"):
            runner = self.runner()
            run = runner.start(
                challenge,
                invitation.candidate_name,
                variant=invitation.variant,
                on_created=lambda run: self._attach(invitation, run),
            )
            log = runner.paths(run.id).root / "supervisor.log"
            pid = self._supervise(self.settings, run.id, log)
            runner.event(run.id, "supervisor.spawned", {"pid": pid, "log": str(log)})
        return run

    def _never_ran(self, run_id: str) -> bool:
        run = self.store.get(run_id)
        return run.status == Status.errored and run.deadline is None

    def _attach(self, invitation: Invitation, run: Run) -> None:
        self.invitations.attach_run(invitation.id, run.id, replacing=invitation.run_id)
        self.audit.record(
            f"candidate:{invitation.candidate_email}",
            "run.started",
            run.id,
            {"invitation": invitation.id},
        )

    def submit_invited(self, invitation_id: str) -> Run:
        """Submit and grade the invitation's run (blocking)."""
        invitation = self.invitations.usable(invitation_id)
        if invitation.run_id is None:
            raise RunStateError("this invitation has no run to submit yet")
        self.audit.record(
            f"candidate:{invitation.candidate_email}", "run.submitted", invitation.run_id
        )
        with self._working(invitation.id, "archiving your workspace"):
            runner = self.runner()
            run = self.store.get(invitation.run_id)
            if run.status == Status.running:
                runner.submit(run.id)
            return runner.grade(run.id)

    def _running_run(self, invitation_id: str) -> Run:
        """The invitation's run, if it is running. Raises RunStateError."""
        invitation = self.invitations.usable(invitation_id)
        if invitation.run_id is None:
            raise RunStateError("start the challenge first")
        run = self.store.get(invitation.run_id)
        if run.status != Status.running:
            with self._lock:
                self._labs.pop(run.id, None)
            raise RunStateError(f"your run is {run.status.value}; its tools are closed")
        return run

    def tool_url(self, invitation_id: str, name: str) -> str:
        """Where a browser on this machine reaches a tool of the candidate's running run:
        ``lab`` (JupyterLab, with its token; restarted if it died) or a service or port the
        challenge declares. The runner publishes each once per process on 127.0.0.1."""
        run = self._running_run(invitation_id)
        runner = self.runner()
        return runner.lab(run.id).url if name == "lab" else runner.forward(run.id, name).url

    def lab_upstream(self, invitation_id: str, *, failed: LabUpstream | None = None) -> LabUpstream:
        """Where the web app's proxy reaches the JupyterLab of the candidate's running run
        (blocking: call it off the event loop). Cached per run, so only the first request
        asks the runner (a docker exec); ``failed``, the upstream a request could not reach,
        drops that entry and asks the runner again, which restarts a dead lab. Concurrent
        callers of one run wait for a single lookup. Raises RunStateError when the run is not
        running."""
        run = self._running_run(invitation_id)
        with self._lock:
            lookup = self._lab_lookups.setdefault(run.id, threading.Lock())
        with lookup:
            with self._lock:
                cached = self._labs.get(run.id)
                if cached is not None and cached == failed:
                    del self._labs[run.id]
                    cached = None
            if cached is not None:
                return cached
            link = self.runner().lab(run.id)
            found = LabUpstream(run.id, link.port, link.token)
            with self._lock:
                self._labs[run.id] = found
            return found

    def tools(self, challenge: Challenge) -> list[str]:
        """The names of the tools a candidate of ``challenge`` gets, JupyterLab first."""
        names = [ref.name for ref in challenge.spec.services]
        return ["lab", *names, *(p.name for p in challenge.spec.ports if p.name not in names)]

    # runs -------------------------------------------------------------------------------------
    def _firms(self) -> dict[str, str]:
        return self.invitations.firm_of_runs()

    def visible_run(self, actor: Actor, run_id: str) -> Run:
        """The run, if ``actor`` may see it. Raises RunNotFound otherwise."""
        actor.require("read")
        run: Run | None
        try:
            run = self.store.get(run_id)
        except RunNotFound:
            run = None  # same message as a run of another firm: existence is not disclosed
        if run is None or not actor.sees(self._firms().get(run.id, self.settings.firm)):
            raise RunNotFound(f"no run {run_id!r}")
        return run

    def runs(
        self, actor: Actor, query: RunFilter = RunFilter(), *, results: bool = False
    ) -> list[RunSummary]:
        """The runs ``actor`` may see, filtered and sorted; their result documents only with
        ``results``."""
        actor.require("read")
        if query.sort not in SORTS:
            raise ProdprovenError(f"cannot sort runs by {query.sort!r}; choose from {SORTS}")
        firms = self._firms()
        overrides = self.reviews.overrides()
        found = []
        for run in self.store.list_runs(results=results):
            firm = firms.get(run.id, self.settings.firm)
            if not actor.sees(firm):
                continue
            latest = overrides.get(run.id)
            score = EffectiveScore(latest.score if latest else run.score, run.score, latest)
            if query.challenge and run.challenge_id != query.challenge:
                continue
            if query.candidate and query.candidate.lower() not in run.candidate.lower():
                continue
            if query.status and run.status.value != query.status:
                continue
            if query.min_score is not None and (
                score.score is None or score.score < query.min_score
            ):
                continue
            found.append(RunSummary(run, firm, score))
        keys: dict[str, Callable[[RunSummary], Any]] = {
            "created": lambda s: s.run.created_at,
            "score": lambda s: (s.score.score is not None, s.score.score or 0.0),
            "candidate": lambda s: s.run.candidate.lower(),
            "challenge": lambda s: s.run.challenge_id,
            "status": lambda s: s.run.status.value,
        }
        return sorted(found, key=keys[query.sort], reverse=query.descending)

    def detail(self, actor: Actor, run_id: str) -> RunDetail:
        run = self.visible_run(actor, run_id)
        archive = Path(run.archive_path) if run.archive_path else None
        return RunDetail(
            run=run,
            firm=self._firms().get(run.id, self.settings.firm),
            document=status_document(run),
            score=self.reviews.effective(run),
            reviews=self.reviews.for_run(run.id),
            events=self.store.events(run.id),
            plots=run_plots(run.result) if run.result else [],
            files=entries(archive) if archive is not None and archive.is_file() else [],
            invitation=self.invitations.for_run(run.id),
            audit=self.audit.entries(subject=run.id),
        )

    def compare(self, actor: Actor, challenge_id: str) -> Comparison:
        summaries = self.runs(actor, RunFilter(challenge=challenge_id, sort="score"), results=True)
        graders: list[str] = []
        rows = []
        for summary in summaries:
            scores: dict[str, float | None] = {}
            for grader in (summary.run.result or {}).get("graders", []):
                if grader["name"] not in graders:
                    graders.append(grader["name"])
                scores[grader["name"]] = grader.get("score")
            rows.append((summary, scores))
        return Comparison(challenge_id, graders, rows)

    # reviews ----------------------------------------------------------------------------------
    def note(self, actor: Actor, run_id: str, text: str) -> Review:
        actor.require("review")
        self.visible_run(actor, run_id)
        return self.reviews.note(run_id, actor.label, text)

    def override(self, actor: Actor, run_id: str, score: float, reason: str) -> Review:
        actor.require("review")
        self.visible_run(actor, run_id)
        return self.reviews.override(run_id, actor.label, score, reason)

    # credentials ------------------------------------------------------------------------------
    def issue_credential(self, actor: Actor, run_id: str) -> Issued:
        """Sign a credential for a graded run that passed. Raises CredentialError below the
        challenge's pass score, RunStateError for a run that is not graded."""
        actor.require("review")
        run = self.visible_run(actor, run_id)
        spec = load_challenge(Path(run.challenge_path), plugins.catalog()).spec
        invitation = self.invitations.for_run(run.id)
        subject = (
            Subject(invitation.candidate_email, "emailAddress")
            if invitation is not None
            else Subject(run.candidate, "name")
        )
        artifacts = [(a.name, a.sha256) for a in self.store.artifacts(run.id)]
        evidence = Evidence(run, spec, self.reviews.for_run(run.id), bundle_sha256(run, artifacts))
        firm = self._firms().get(run.id, self.settings.firm)
        return self.credentials.issue(
            evidence,
            subject,
            actor.label,
            issuer_name=f"{firm} (prodproven)",
            base_url=self.settings.base_url,
            months=self.settings.validity_months,
        )

    def revoke_credential(self, actor: Actor, credential_id: str, reason: str) -> Issued:
        actor.require("review")
        issued = self.credentials.get(credential_id)
        self.visible_run(actor, issued.run_id)
        return self.credentials.revoke(credential_id, actor.label, reason)

    def credentials_of(self, actor: Actor, run_id: str) -> list[Issued]:
        self.visible_run(actor, run_id)
        return self.credentials.for_run(run_id)

    def candidate_credentials(self, invitation_id: str) -> list[Issued]:
        """The credentials of the run an invitation led to that are not revoked (what its
        candidate may download), oldest first."""
        run_id = self.invitations.get(invitation_id).run_id
        issued = self.credentials.for_run(run_id) if run_id else []
        return [c for c in issued if c.revoked_at is None]

    def public_credential(self, credential_id: str) -> tuple[Issued, Verdict]:
        """A credential and whether it is valid now, for anyone holding its id. Raises
        CredentialError for an id this installation never issued."""
        issued = self.credentials.get(credential_id)
        return issued, self.credentials.verify(issued.document)

    # candidates -------------------------------------------------------------------------------
    def candidate(self, actor: Actor, name: str) -> CandidateRecord:
        """The candidate's profile, the runs ``actor`` may see and their track record now."""
        actor.require("read")
        candidate = self.candidates.get(name)
        firms = self._firms()
        runs = [
            r for r in self.candidates.runs(name) if actor.sees(firms.get(r.id, self.settings.firm))
        ]
        if not runs and actor.firm is not None:
            raise CandidateNotFound(f"no candidate {name!r}")  # another firm's: not disclosed
        seen = {r.id for r in runs}
        evidence = [e for e in self.candidates.evidence(name) if e.run_id in seen]
        months = self.settings.validity_months
        return CandidateRecord(candidate, runs, track_record.record(evidence, utcnow(), months))

    def forget_candidate(self, actor: Actor, name: str) -> Forgotten:
        """Only the operator, who sees every firm, may erase a candidate."""
        if actor.firm is not None:
            raise ScopeDenied("only the operator at the CLI may forget a candidate")
        return self.candidates.forget(name, actor.label, self.credentials)
