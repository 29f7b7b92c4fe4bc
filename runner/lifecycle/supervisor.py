"""The run supervisor: the part of the runner that lives as long as a run does. It moves the
prober's samples into the store and pages the candidate when they turn unhealthy (the on-call
alert), fires scheduled incidents on time, and (for interactive runs) submits when the clock
runs out. It also snapshots the workspace into the run's timeline every minute, on a thread
of its own (``snapshots.py``).

It keeps no state of its own: every pass re-reads the run and its event log, so a supervisor
started after a crash (``prodproven supervise RUN``) picks up exactly where the last one
stopped. A lock file keeps two supervisors off one run. A run whose pod is lost (its cluster
node went down) is marked errored with the reason, and supervising it ends.

Interactive runs are supervised by one background process per data directory
(:class:`AllSupervisor`, ``prodproven supervise --all``), a thread per run: a Python process
with prodproven loaded costs about 100 MiB, more than an idle workspace. :func:`spawn` makes
sure it runs; it takes up every running interactive run that asked for it (the event
:data:`WANTED`) and exits once no interactive run has been running for a while. While it
runs it also does the due work (:class:`DueLoop`: the outbox's due email, the campaigns' due
steps), on a thread of its own so a slow mail server never delays a run's supervision.
"""

from __future__ import annotations

import fcntl
import logging
import os
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any, Protocol

from prodproven.runner.config import Settings
from prodproven.runner.errors import ProdprovenError
from prodproven.runner.lifecycle.detached import start_detached
from prodproven.runner.lifecycle.dueloop import MAIL_EVERY_S, DueLoop, DueWork
from prodproven.runner.lifecycle.snapshots import Snapshots
from prodproven.runner.runs.alerts import AlertFeed, AlertRule
from prodproven.runner.runs.prober import ROLE as PROBER_ROLE
from prodproven.runner.runs.prober import ProbeFeed
from prodproven.runner.runs.provisioning import Provisioner
from prodproven.runner.runs.schedule import Decision, Planned, decide, incident_log
from prodproven.runner.runs.services import LIVE_SERVICE_ROLE
from prodproven.runner.runs.store import Run, Status, Store, transition_in, utcnow
from prodproven.runner.runs.workspace import RunPaths
from prodproven.sandbox.environment import Backend, Pod
from prodproven.sandbox.errors import SandboxError
from prodproven.sandbox.faults import FaultTarget

PROBE_GRACE_S = 0.5
"""How long taking a supervisor's lock waits out another process probing it."""

WANTED = "supervisor.spawned"
"""The event asking for a run's background supervision (written by ``start``, the web app's
start and recovery, with the supervising process's pid)."""
LOCK_NAME = "supervisor.lock"
"""A supervisor's lock file: in a run's folder for the run, in the data directory for the
data directory's supervisor; it holds the holder's pid."""
LOG_NAME = "supervisor.log"
"""The data directory's supervisor's output, in the data directory."""
IDLE_EXIT_S = 60.0
"""How long the data directory's supervisor stays without a running interactive run."""
POLL_S = 1.0
"""How often the data directory's supervisor looks for runs to take up."""
TICK_S = 1.0
"""How often it checks each run: incidents have a grace of minutes and the prober is read
once its interval, so a second is on time; more often costs CPU per idle run."""
LOST_EVERY_S = 5.0
"""How often it asks whether a run's pod is lost (and after every failure on it): a backend may
ask a cluster's manager, and a node is seen down some 13 s after it died (docs/scaling.md)."""
RETRY_S = 10.0
"""How long it waits before trying again a run it could not supervise (say, another process
supervises it)."""

log = logging.getLogger(__name__)


class Supervised(Protocol):
    """What a supervisor needs of the runner (``lifecycle.Runner`` is one)."""

    @property
    def settings(self) -> Settings: ...

    @property
    def store(self) -> Store: ...

    @property
    def backend(self) -> Backend: ...

    @property
    def provisioner(self) -> Provisioner: ...

    def paths(self, run_id: str) -> RunPaths: ...

    def finish(self, run_id: str) -> Run: ...


class AlreadySupervised(ProdprovenError):
    """Another process already supervises this run."""


class RunSupervisor:
    """Watches one running run. ``autosubmit``: submit and grade it at its deadline."""

    def __init__(
        self, runner: Supervised, run_id: str, *, autosubmit: bool = False, tick_s: float = 0.25
    ) -> None:
        self.runner = runner
        self.run_id = run_id
        self.autosubmit = autosubmit
        self.tick_s = tick_s
        run = runner.store.get(run_id)
        self.challenge = runner.provisioner.challenge_of(run)
        self.variant = run.variant
        probe = self.challenge.spec.probe
        self._feed: ProbeFeed | None = None
        self._alerts: AlertFeed | None = None
        if probe is not None:
            canaries = runner.provisioner.canaries(self.challenge, run.variant)
            self._feed = ProbeFeed(runner.store, run_id, canaries)
            self._alerts = AlertFeed(runner.store, run_id, AlertRule.of(probe))
        self._poll_every = probe.interval_s if probe is not None else 0.0
        self._next_poll = 0.0
        self._next_lost = 0.0
        self._pod: Pod | None = None
        self._last_error: str | None = None
        self._failure: BaseException | None = None
        paths = runner.paths(run_id)
        self._snapshots = Snapshots.of(runner.store, run_id, paths, runner.settings)

    # one pass ------------------------------------------------------------------------------
    def step(self) -> bool:
        """Ingest samples, fire what is due, submit at the deadline. False once the run is no
        longer running (then there is nothing left to supervise), or once its pod is lost
        (:meth:`lost`)."""
        run = self.runner.store.get(self.run_id)
        if run.status != Status.running:
            return False
        try:
            # Attached once: looking a pod up lists and inspects its containers.
            self._pod = self._pod or self.runner.backend.attach_pod(self.run_id, "workspace")
            if self._pod is not None:
                if time.monotonic() >= self._next_lost and self.lost(self._pod):
                    return False
                self._snapshots.tick(self._pod)  # on a thread of its own
                # The prober answers once an interval; reading it more often finds nothing.
                if time.monotonic() >= self._next_poll:
                    self._next_poll = time.monotonic() + self._poll_every
                    self.poll_prober(self._pod)
                self.fire_due(self._pod)
        except SandboxError as exc:
            pod, self._pod = self._pod, None
            if pod is not None and self.lost(pod):
                return False  # its node went down while we were at it
            if self.runner.store.get(self.run_id).status != Status.running:
                return False  # submitted under our feet: the pod is being torn down
            if str(exc) != self._last_error:
                self._event("supervisor.error", {"error": str(exc)})
            self._last_error = str(exc)
        if self.autosubmit and run.deadline is not None and utcnow() >= run.deadline:
            self._event("deadline.reached", {"deadline": run.deadline})
            self.runner.finish(self.run_id)
            return False
        return True

    def lost(self, pod: Pod) -> bool:
        """When ``pod`` is lost (its node went down: ``Pod.lost``), mark the run ``errored``
        with the reason (the status, then an event ``pod.lost``) and say True: nothing more is
        tried on that pod, and its leftovers are ``gc``'s. A run that stopped running
        meanwhile (a submit removed its pod) is left as it is."""
        self._next_lost = time.monotonic() + LOST_EVERY_S
        reason = pod.lost()
        if reason is None:
            return False
        with self.runner.store.locked(self.run_id) as (s, row):
            if row.status != Status.running.value:
                return True
            transition_in(s, self.run_id, Status.errored, error=reason)
        self._event("pod.lost", {"reason": reason})
        return True

    def poll_prober(self, pod: Pod) -> int:
        """Store the prober's new samples, then check the on-call alert's rule against them
        (runner/runs/alerts.py); returns how many samples were new."""
        prober = pod.member(PROBER_ROLE)
        if self._feed is None or self._alerts is None or prober is None:
            return 0
        added = self._feed.poll(prober)
        self._alerts.check()
        return added

    def fire_due(self, pod: Pod) -> None:
        log = incident_log(self.runner.store, self.run_id)
        for planned in log.planned():
            now = utcnow()
            decision = decide(log.outcome(planned.event), planned.at, planned.grace_s, now)
            if decision is Decision.fire:
                self.fire(planned, pod)
            elif decision is Decision.miss:
                late = (now - planned.at).total_seconds()
                self._event(
                    "incident.missed",
                    {
                        "event": planned.event,
                        "fault": planned.fault,
                        "reason": f"nobody supervised the run when it was due; {late:.0f} s "
                        f"late is past its grace of {planned.grace_s:g} s",
                    },
                )

    def fire(self, planned: Planned, pod: Pod) -> None:
        """Inject ``planned``'s fault now, logging before and after (failures are logged)."""
        fault = self.challenge.fault(planned.fault)
        kind = self.runner.provisioner.catalog.faults[fault.kind]
        base = {"event": planned.event, "fault": fault.name}
        late = (utcnow() - planned.at).total_seconds()
        self._event("incident.injecting", {**base, "late_s": round(late, 3)})
        started = time.time()
        try:
            service = pod.member(LIVE_SERVICE_ROLE)
            if service is None:
                raise SandboxError(f"run {self.run_id} has no live service to break")
            hidden = self.runner.provisioner.material(self.challenge, self.variant).hidden
            details = kind.inject(
                FaultTarget(service, hidden), kind.Params.model_validate(fault.params)
            )
        except SandboxError as exc:
            self._event("incident.failed", {**base, "error": str(exc)})
            return
        self._event(
            "incident.injected",
            {
                **base,
                "root_cause": fault.root_cause,
                "at": started,
                "took_s": round(time.time() - started, 3),
                "details": details,
            },
        )

    # loops ---------------------------------------------------------------------------------
    def run(self, stop: threading.Event | None = None) -> None:
        """Supervise until the run is over (or ``stop`` is set). Raises AlreadySupervised."""
        stop = stop or threading.Event()
        with self._locked():
            while not stop.is_set() and self.step():
                stop.wait(self.tick_s)

    @contextmanager
    def background(self) -> Iterator[RunSupervisor]:
        """Supervise in a thread while the block runs; its failure is raised on exit."""
        stop = threading.Event()

        def target() -> None:
            try:
                self.run(stop)
            except BaseException as exc:  # handed to the caller's thread below
                self._failure = exc

        thread = threading.Thread(target=target, name=f"supervise-{self.run_id}", daemon=True)
        thread.start()
        try:
            yield self
        finally:
            stop.set()
            thread.join(timeout=30)
        self.raise_failure()

    def raise_failure(self) -> None:
        if self._failure is not None:
            raise self._failure

    def wait_outcome(self, event: str, timeout: float) -> str | None:
        """Wait until ``event`` has an outcome (injected, failed, missed); None on timeout."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.raise_failure()
            outcome = incident_log(self.runner.store, self.run_id).outcome(event)
            if outcome is not None:
                return outcome
            time.sleep(0.25)
        return None

    def _event(self, kind: str, data: dict[str, Any]) -> None:
        self.runner.store.add_event(self.run_id, kind, data)

    def _locked(self) -> AbstractContextManager[None]:
        lock = self.runner.paths(self.run_id).root / LOCK_NAME
        return _exclusive(lock, f"run {self.run_id} is already supervised")


class AllSupervisor:
    """Supervises every interactive run of one data directory that asked for it (an event
    :data:`WANTED`), each on a thread of its own as a :class:`RunSupervisor` that submits at
    the deadline. ``lock`` (the data directory's lock file) keeps it single. It stops once no
    interactive run has been running for ``idle_exit_s``. While it holds the lock it does the
    ``due`` work every ``mail_every_s`` on a thread of its own (:class:`DueLoop`)."""

    def __init__(
        self,
        runner: Supervised,
        lock: Path,
        *,
        due: Sequence[DueWork] = (),
        poll_s: float = POLL_S,
        idle_exit_s: float = IDLE_EXIT_S,
        retry_s: float = RETRY_S,
        tick_s: float = TICK_S,
        mail_every_s: float = MAIL_EVERY_S,
    ) -> None:
        self.runner = runner
        self.lock = lock
        self.due = list(due)
        self.poll_s = poll_s
        self.idle_exit_s = idle_exit_s
        self.retry_s = retry_s
        self.tick_s = tick_s
        self.mail_every_s = mail_every_s
        self._threads: dict[str, threading.Thread] = {}
        self._wanted: set[str] = set()
        self._retry_at: dict[str, float] = {}
        self._halt = threading.Event()

    def run(self, stop: threading.Event | None = None) -> None:
        """Supervise until idle (or ``stop`` is set). Raises AlreadySupervised when another
        process supervises the data directory."""
        stop = stop or threading.Event()
        try:
            with self._locked():
                self._serve(stop)
            # A run that started while we let go was told we run: take it up again, unless a
            # supervisor started meanwhile has the lock.
            while not stop.is_set() and self._running():
                try:
                    with self._locked():
                        self._serve(stop)
                except AlreadySupervised:
                    return
        finally:
            self.close()

    def close(self) -> None:
        """Stop supervising: every run's thread ends after its current pass (a submit at the
        deadline under way is waited for up to 30 s; it goes on after, recovery's to finish)."""
        self._halt.set()
        for thread in self._threads.values():
            thread.join(timeout=30)

    def supervising(self) -> list[str]:
        """The runs it supervises right now."""
        return [run_id for run_id, thread in self._threads.items() if thread.is_alive()]

    def sweep(self) -> int:
        """Start a thread for each running interactive run that wants one and has none;
        returns how many interactive runs are running."""
        self._threads = {i: t for i, t in self._threads.items() if t.is_alive()}
        running = self._running()
        for run_id in running:
            due = time.monotonic() >= self._retry_at.get(run_id, 0.0)
            if run_id not in self._threads and due and self._wants(run_id):
                thread = threading.Thread(
                    target=self._supervise, args=(run_id,), name=f"supervise-{run_id}"
                )
                self._threads[run_id] = thread
                thread.start()
        return len(running)

    def _serve(self, stop: threading.Event) -> None:
        with DueLoop(self.due, self.mail_every_s).running(stop, self._halt):
            idle_since = time.monotonic()
            while not stop.is_set():
                if self.sweep():
                    idle_since = time.monotonic()
                elif time.monotonic() - idle_since >= self.idle_exit_s:
                    return
                stop.wait(self.poll_s)

    def _running(self) -> list[str]:
        runs = self.runner.store.list_runs(status=Status.running, results=False)
        return [run.id for run in runs if run.mode == "interactive"]

    def _wants(self, run_id: str) -> bool:
        if run_id not in self._wanted and any(
            event.kind == WANTED for event in self.runner.store.events(run_id)
        ):
            self._wanted.add(run_id)
        return run_id in self._wanted

    def _supervise(self, run_id: str) -> None:
        """One run's thread: its failures are logged and the run tried again later."""
        try:
            log.info("supervising run %s", run_id)
            one = RunSupervisor(self.runner, run_id, autosubmit=True, tick_s=self.tick_s)
            one.run(self._halt)
            log.info("run %s is %s; its supervision is done", run_id, self._status(run_id))
            return
        except AlreadySupervised as exc:
            log.info("%s", exc)
        except Exception:  # the edge of this run's thread: logged, and tried again
            log.exception("supervising run %s failed", run_id)
        self._retry_at[run_id] = time.monotonic() + self.retry_s

    def _status(self, run_id: str) -> str:
        return self.runner.store.get(run_id).status.value

    def _locked(self) -> AbstractContextManager[None]:
        return _exclusive(self.lock, f"the data directory {self.lock.parent} is already supervised")


@contextmanager
def _exclusive(path: Path, busy: str) -> Iterator[None]:
    """Hold the lock file ``path`` (writing our pid in it) while the block runs; raises
    AlreadySupervised, saying ``busy`` and the holder's pid, when another holds it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a+") as fh:
        # A probe (:func:`holder`) holds the lock for an instant: try again for a moment
        # before taking the lock for another supervisor's.
        give_up = time.monotonic() + PROBE_GRACE_S
        while True:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= give_up:
                    fh.seek(0)
                    raise AlreadySupervised(f"{busy} (process {fh.read().strip()})") from None
                time.sleep(0.01)
        fh.seek(0)
        fh.truncate()
        fh.write(str(os.getpid()))
        fh.flush()
        yield


def holder(path: Path) -> int | None:
    """The pid holding the lock file ``path``, or None when nobody holds it."""
    try:
        fh = path.open("r")
    except FileNotFoundError:
        return None
    with fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return int(fh.read().strip() or 0) or None
        return None


def lock_path(settings: Settings) -> Path:
    """The data directory's supervisor lock file."""
    return settings.data_dir / LOCK_NAME


def log_path(settings: Settings) -> Path:
    """The data directory's supervisor's output."""
    return settings.data_dir / LOG_NAME


def spawn(settings: Settings) -> int:
    """Make sure the data directory's supervisor runs: start ``prodproven supervise --all`` as
    a detached process (its output appended to :func:`log_path`) unless one holds the lock.
    Returns its pid (of the one running, or of the one started). It takes up, within
    :data:`POLL_S`, every running interactive run with an event :data:`WANTED`: record one for
    the run next. Call it once the run is running (the supervisor stays while one is)."""
    running = holder(lock_path(settings))
    if running is not None:
        return running
    return start_detached(settings, ["supervise", "--all"], log_path(settings))
