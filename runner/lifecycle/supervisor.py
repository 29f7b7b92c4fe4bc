"""The run supervisor: the part of the runner that lives as long as a run does. It moves the
prober's samples into the store, fires scheduled incidents on time, and (for interactive runs)
submits when the clock runs out.

It keeps no state of its own: every pass re-reads the run and its event log, so a supervisor
started after a crash (``prodproven supervise RUN``) picks up exactly where the last one
stopped. A lock file keeps two supervisors off one run.
"""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol

from prodproven.runner.config import Settings
from prodproven.runner.errors import ProdprovenError
from prodproven.runner.runs.prober import ROLE as PROBER_ROLE
from prodproven.runner.runs.prober import ProbeFeed
from prodproven.runner.runs.provisioning import Provisioner
from prodproven.runner.runs.schedule import Decision, Planned, decide, incident_log
from prodproven.runner.runs.services import LIVE_SERVICE_ROLE
from prodproven.runner.runs.store import Run, Status, Store, utcnow
from prodproven.runner.runs.workspace import RunPaths
from prodproven.sandbox.environment import Backend, Pod
from prodproven.sandbox.errors import SandboxError
from prodproven.sandbox.faults import FaultTarget


class Supervised(Protocol):
    """What a supervisor needs of the runner (``lifecycle.Runner`` is one)."""

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
        if probe is not None:
            canaries = runner.provisioner.canaries(self.challenge, run.variant)
            self._feed = ProbeFeed(runner.store, run_id, canaries)
        self._poll_every = probe.interval_s if probe is not None else 0.0
        self._next_poll = 0.0
        self._pod: Pod | None = None
        self._last_error: str | None = None
        self._failure: BaseException | None = None

    # one pass ------------------------------------------------------------------------------
    def step(self) -> bool:
        """Ingest samples, fire what is due, submit at the deadline. False once the run is no
        longer running (then there is nothing left to supervise)."""
        run = self.runner.store.get(self.run_id)
        if run.status != Status.running:
            return False
        try:
            # Attached once: looking a pod up lists and inspects its containers.
            self._pod = self._pod or self.runner.backend.attach_pod(self.run_id, "workspace")
            if self._pod is not None:
                # The prober answers once an interval; reading it more often finds nothing.
                if time.monotonic() >= self._next_poll:
                    self._next_poll = time.monotonic() + self._poll_every
                    self.poll_prober(self._pod)
                self.fire_due(self._pod)
        except SandboxError as exc:
            self._pod = None
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

    def poll_prober(self, pod: Pod) -> int:
        """Store the prober's new samples; returns how many."""
        prober = pod.member(PROBER_ROLE)
        if self._feed is None or prober is None:
            return 0
        return self._feed.poll(prober)

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

    @contextmanager
    def _locked(self) -> Iterator[None]:
        path = self.runner.paths(self.run_id).root / "supervisor.lock"
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a+") as fh:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                fh.seek(0)
                raise AlreadySupervised(
                    f"run {self.run_id} is already supervised (process {fh.read().strip()})"
                ) from None
            fh.seek(0)
            fh.truncate()
            fh.write(str(os.getpid()))
            fh.flush()
            yield


def spawn(settings: Settings, run_id: str, log: Path) -> int:
    """Start ``prodproven supervise RUN`` as a detached process; returns its pid."""
    log.parent.mkdir(parents=True, exist_ok=True)
    env: dict[str, Any] = {**os.environ, "PRODPROVEN_DATA_DIR": str(settings.data_dir)}
    with log.open("ab") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "prodproven.runner.cli", "supervise", run_id],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
    return process.pid
