"""The invited candidate's side: open the link, start the run, reach its tools, submit. A
candidate is known by their invitation, never by an Actor: they see only its run."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Generic, Protocol, TypeVar

from prodproven.runner import plugins
from prodproven.runner.config import Settings
from prodproven.runner.errors import AccessDenied, ProdprovenError, RunStateError
from prodproven.runner.lifecycle import supervisor
from prodproven.runner.lifecycle.admission import Place, places
from prodproven.runner.lifecycle.core import Runner
from prodproven.runner.lifecycle.start import EXTRA_TIME
from prodproven.runner.people.invitations import Invitation
from prodproven.runner.portal.access import Access, Records
from prodproven.runner.portal.catalogue import Catalogue
from prodproven.runner.runs.store import Run, Status, utcnow
from prodproven.runner.spec.challenge import Challenge, load_challenge

log = logging.getLogger(__name__)
SESSION_SLACK = timedelta(days=14)
"""A candidate's browser stays signed in this long after the invitation's expiry, so they can
come back to see that their submission was received."""


@dataclass(frozen=True)
class LabUpstream:
    """A run's JupyterLab as the web app's proxy reaches it: ``127.0.0.1:port``, ``token``."""

    run_id: str
    port: int
    token: str


@dataclass(frozen=True)
class ToolUpstream:
    """A service or declared port of a run as the web app's proxy reaches it:
    ``127.0.0.1:port``; the answers of paths matching ``trusted`` (the service kind's own UI)
    are served as they are, every other answer is sandboxed as candidate code."""

    run_id: str
    name: str
    port: int
    trusted: tuple[str, ...]


class _Upstream(Protocol):
    @property
    def port(self) -> int: ...


U = TypeVar("U", bound=_Upstream)


class UpstreamCache(Generic[U]):
    """Upstreams by (run, tool), each looked up once: concurrent callers of one key wait for
    a single lookup, and a lookup whose port a caller could not reach is made again."""

    def __init__(self) -> None:
        self._found: dict[tuple[str, str], U] = {}
        self._lookups: dict[tuple[str, str], threading.Lock] = {}
        self._lock = threading.Lock()

    def get(self, key: tuple[str, str], lookup: Callable[[], U], failed_port: int | None) -> U:
        """The cached upstream of ``key``, or ``lookup()`` (cached) when there is none or it
        is at ``failed_port``. Raises what ``lookup`` raises."""
        with self._lock:
            one = self._lookups.setdefault(key, threading.Lock())
        with one:
            with self._lock:
                cached = self._found.get(key)
                if cached is not None and cached.port == failed_port:
                    del self._found[key]
                    cached = None
            if cached is not None:
                return cached
            found = lookup()
            with self._lock:
                self._found[key] = found
            return found

    def drop_run(self, run_id: str) -> None:
        with self._lock:
            for key in [key for key in self._found if key[0] == run_id]:
                del self._found[key]


def trusted_paths(challenge: Challenge, name: str) -> tuple[str, ...]:
    """The paths of tool ``name`` of ``challenge`` served as they are: its service kind's own
    UI (:attr:`ServiceKind.trusted_ui`); none for a declared port (candidate code), which
    wins when a port and a service share a name, as the runner's forward does."""
    if any(port.name == name for port in challenge.spec.ports):
        return ()
    kinds = dict(challenge.services(plugins.catalog()))
    return kinds[name].trusted_ui if name in kinds else ()


@dataclass(frozen=True)
class CandidateSession:
    """A browser session opened from an invitation link: its ``cookie`` lives ``lifetime``."""

    invitation: Invitation
    cookie: str
    lifetime: timedelta


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
    queue: Place | None = None
    """The run's place in the queue while it waits for room (``queued``)."""


class Invited:
    """What a candidate does through their invitation."""

    def __init__(
        self,
        records: Records,
        access: Access,
        catalogue: Catalogue,
        runner: Callable[[Callable[[str], None]], Runner],
        supervise: Callable[[Settings], int],
    ) -> None:
        self._records = records
        self._access = access
        self._catalogue = catalogue
        self._supervise = supervise
        self._make_runner = runner
        self._busy: dict[str, str] = {}
        self._lock = threading.Lock()
        self._runner_lock = threading.Lock()
        self._local = threading.local()
        self._the_runner: Runner | None = None
        self._labs: UpstreamCache[LabUpstream] = UpstreamCache()
        self._tools: UpstreamCache[ToolUpstream] = UpstreamCache()

    def runner(self) -> Runner:
        """The one runner of this process (made on first use: it needs the Docker engine).
        Its progress lines are shown to whoever watches the job running on this thread."""
        with self._runner_lock:
            if self._the_runner is None:
                self._the_runner = self._make_runner(self._progress)
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

    def preview(self, token: str, cookie: str | None) -> Invitation | None:
        """The invitation of a link, to show before it is redeemed (nothing changes: a mail
        scanner may open it); None when ``cookie`` is already that invitation's session.
        Raises AccessDenied for an unknown, used, expired or revoked link."""
        if self._holds(token, cookie):
            return None
        return self._records.invitations.check(token)

    def open(self, token: str, cookie: str | None) -> CandidateSession | None:
        """Redeem an invitation link and open a candidate session; None when ``cookie`` is
        already that invitation's session. Raises AccessDenied for an unknown, used, expired
        or revoked link."""
        if self._holds(token, cookie):
            return None
        records = self._records
        invitation = records.invitations.redeem(token)
        lifetime = invitation.expires_at - invitation.created_at + SESSION_SLACK
        opened, _ = records.accounts.open_session("candidate", invitation.id, lifetime)
        self._access.record(
            f"candidate:{invitation.candidate_email}", "invitation.opened", invitation.id
        )
        return CandidateSession(invitation, opened, lifetime)

    def _holds(self, token: str, cookie: str | None) -> bool:
        """Whether ``cookie`` is the session of the invitation of ``token``."""
        known = self._records.invitations.find(token)
        if known is None or not cookie:
            return False
        try:
            return self._records.accounts.session(cookie, "candidate").subject == known.id
        except AccessDenied:
            return False

    def state(self, invitation_id: str) -> CandidateState:
        invitation = self._records.invitations.usable(invitation_id)
        run = self._records.store.get(invitation.run_id) if invitation.run_id else None
        remaining = None
        if run is not None and run.status == Status.running and run.deadline is not None:
            remaining = max(0.0, (run.deadline - utcnow()).total_seconds())
        with self._lock:
            busy = self._busy.get(invitation.id)
        queued = run is not None and run.status is Status.queued
        return CandidateState(
            invitation=invitation,
            challenge=self._catalogue.find_id(invitation.challenge_id),
            run=run,
            remaining_s=remaining,
            busy=busy,
            can_start=run is None or self._never_ran(run.id),
            queue=places(self._records.store).get(run.id) if run and queued else None,
        )

    def start(self, invitation_id: str) -> Run:
        """Start the invitation's run (blocking: minutes when images must be built) and its
        supervisor. A run that failed before it ever ran (say, the engine was down) is kept
        for the record and replaced. Raises RunStateError when the invitation has a run."""
        invitation = self._records.invitations.usable(invitation_id)
        if invitation.run_id is not None and not self._never_ran(invitation.run_id):
            raise RunStateError(f"invitation {invitation.id} already has run {invitation.run_id}")
        challenge = self._catalogue.find_id(invitation.challenge_id)
        with self._working(invitation.id, "starting your workspace"):
            runner = self.runner()
            run = runner.start(
                challenge,
                invitation.candidate_name,
                variant=invitation.variant,
                on_created=lambda run: self._attach(invitation, run, challenge),
            )
            pid = self._supervise(self._records.settings)
            log = supervisor.log_path(self._records.settings)
            runner.event(run.id, supervisor.WANTED, {"pid": pid, "log": str(log)})
        return run

    def _never_ran(self, run_id: str) -> bool:
        run = self._records.store.get(run_id)
        return run.status == Status.errored and run.deadline is None

    def _attach(self, invitation: Invitation, run: Run, challenge: Challenge) -> None:
        """Record ``run`` as the invitation's, with the extra time it grants (before the
        run's clock opens: start.EXTRA_TIME)."""
        self._records.invitations.attach_run(invitation.id, run.id, replacing=invitation.run_id)
        granted = invitation.accommodation
        if granted:
            limit = timedelta(minutes=challenge.spec.time_limit_minutes)
            extra = {"extra_s": granted.extra(limit).total_seconds(), "granted": granted.describe()}
            self._records.store.add_event(run.id, EXTRA_TIME, extra)
        log.info("invitation %s: run %s created", invitation.id, run.id)
        self._access.record(
            f"candidate:{invitation.candidate_email}",
            "run.started",
            run.id,
            {"invitation": invitation.id},
        )

    def submit(self, invitation_id: str) -> Run:
        """Submit and grade the invitation's run (blocking)."""
        invitation = self._records.invitations.usable(invitation_id)
        if invitation.run_id is None:
            raise RunStateError("this invitation has no run to submit yet")
        self._access.record(
            f"candidate:{invitation.candidate_email}", "run.submitted", invitation.run_id
        )
        with self._working(invitation.id, "archiving your workspace"):
            return self.runner().finish(invitation.run_id)

    def _running_run(self, invitation_id: str) -> Run:
        """The invitation's run, if it is running. Raises RunStateError."""
        invitation = self._records.invitations.usable(invitation_id)
        if invitation.run_id is None:
            raise RunStateError("start the challenge first")
        run = self._records.store.get(invitation.run_id)
        if run.status != Status.running:
            self._labs.drop_run(run.id)
            self._tools.drop_run(run.id)
            raise RunStateError(f"your run is {run.status.value}; its tools are closed")
        return run

    def lab_upstream(self, invitation_id: str, *, failed_port: int | None = None) -> LabUpstream:
        """Where the web app's proxy reaches the JupyterLab of the candidate's running run
        (blocking: call it off the event loop). Cached per run, so only the first request
        asks the runner (a docker exec); ``failed_port``, the port a request could not reach,
        drops that entry and asks the runner again, which restarts a dead lab. Concurrent
        callers of one run wait for a single lookup. Raises RunStateError when the run is not
        running."""
        run = self._running_run(invitation_id)

        def lookup() -> LabUpstream:
            link = self.runner().lab(run.id)
            return LabUpstream(run.id, link.port, link.token)

        return self._labs.get((run.id, "lab"), lookup, failed_port)

    def tool_upstream(
        self, invitation_id: str, name: str, *, failed_port: int | None = None
    ) -> ToolUpstream:
        """Where the web app's proxy reaches a service or declared port ``name`` of the
        candidate's running run (blocking), cached like :meth:`lab_upstream`: the runner
        publishes it (and records ``port.forwarded``) on the first request only. Raises
        RunStateError when the run is not running, ProdprovenError when the challenge has no
        tool ``name``."""
        run = self._running_run(invitation_id)

        def lookup() -> ToolUpstream:
            challenge = load_challenge(Path(run.challenge_path), plugins.catalog())
            tools = self._catalogue.tools(challenge)[1:]
            if name not in tools:
                known = ", ".join(tools) or "none"
                raise ProdprovenError(f"this challenge has no tool named {name!r} (tools: {known})")
            published = self.runner().forward(run.id, name)
            return ToolUpstream(run.id, name, published.host_port, trusted_paths(challenge, name))

        return self._tools.get((run.id, name), lookup, failed_port)
