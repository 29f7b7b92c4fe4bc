"""Views: a submitted run's services opened again from their submit archives, for people to
look at (the MLflow UI of a graded fix-drift run as the candidate left it).

A run's view is one pod (purpose ``view``) per run, shared by everyone who opens it; it holds
only services with a data directory, each restored from its archive once the archive's sha256
is the one recorded at submit, and run as during the run (the kind's image, limits and user).
No hidden material and no candidate code enter it. The restored data is a throwaway copy: the
archive is only read. Read-only is enforced in front of the service by :func:`read_only`
(the web proxy asks it before each request). A view unused for ``idle_s`` is closed by a
background reaper thread; the next request opens it again.

The process holding a view open holds the run's ``view.lock`` (``ownership.RunLocks``), so
``prodproven gc`` in another process tells a live view from a leftover one (its process died)
and removes only the leftovers.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from prodproven.runner.errors import RunNotFound, RunStateError
from prodproven.runner.grading.pipeline import ArchiveMismatch
from prodproven.runner.lifecycle.ownership import RunBusy, RunLocks
from prodproven.runner.runs.archives import sha256_of
from prodproven.runner.runs.provisioning import Provisioner
from prodproven.runner.runs.services import ServicePlan, start_services
from prodproven.runner.runs.store import Run, Store
from prodproven.runner.spec.prepare import pod_size
from prodproven.sandbox.environment import Backend, Pod, PublishedPort
from prodproven.sandbox.services import ServiceKind

VIEW_PURPOSE = "view"
VIEW_LOCK = "view.lock"
ALWAYS_ALLOWED = frozenset({"GET", "HEAD", "OPTIONS"})

log = logging.getLogger(__name__)


def read_only(kind: ServiceKind) -> Callable[[str, str], bool]:
    """Whether a request (method, path as the service sees it) only reads: GET, HEAD and
    OPTIONS always; POST when the path without its query matches one of the kind's
    ``read_only_posts`` whole; nothing else."""
    patterns = [re.compile(pattern) for pattern in kind.read_only_posts]

    def allows(method: str, path: str) -> bool:
        verb = method.upper()
        if verb in ALWAYS_ALLOWED:
            return True
        bare = path.split("?", 1)[0]
        return verb == "POST" and any(pattern.fullmatch(bare) for pattern in patterns)

    return allows


def verified_archive(run: Run, name: str) -> Path:
    """The archive of service ``name`` of ``run``, once its sha256 is the one recorded at
    submit. Raises ArchiveMismatch when it is missing or differs."""
    info = (run.service_archives or {})[name]
    path = Path(str(info["path"]))
    if not path.is_file():
        raise ArchiveMismatch(f"archive {path} of the {name!r} service of run {run.id} is missing")
    digest = sha256_of(path)
    if digest != info["sha256"]:
        raise ArchiveMismatch(
            f"archive {path} of the {name!r} service of run {run.id} has sha256 {digest}, "
            f"expected {info['sha256']}: it is not what was submitted"
        )
    return path


def _named(plans: dict[str, ServicePlan], run_id: str, name: str) -> ServicePlan:
    if name not in plans:
        raise RunNotFound(
            f"run {run_id} has no service {name!r} to open (it has: "
            f"{', '.join(sorted(plans)) or 'none'})"
        )
    return plans[name]


@dataclass
class _View:
    pod: Pod
    lock: ExitStack
    used: float
    ports: dict[str, PublishedPort] = field(default_factory=dict)


class Views:
    """This process's views of runs' services. ``locks`` are the runs' view locks; ``clock``
    measures idleness; ``reap_every_s`` is how often the reaper thread looks for idle views
    (None: no thread, call :meth:`reap`)."""

    def __init__(
        self,
        store: Store,
        backend: Backend,
        provisioner: Provisioner,
        locks: RunLocks,
        idle_s: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        reap_every_s: float | None = None,
    ) -> None:
        self._store = store
        self._backend = backend
        self._provisioner = provisioner
        self._locks = locks
        self._idle_s = idle_s
        self._clock = clock
        self._reap_every_s = reap_every_s
        self._open: dict[str, _View] = {}
        self._per_run: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()
        self._reaper: threading.Thread | None = None

    def kind(self, run_id: str, name: str) -> ServiceKind:
        """The kind of the run's service ``name``, if it can be opened (it has a data
        directory and an archive). Raises RunNotFound (no such run, or no such service: the
        message names those there are), RunStateError (no service archive yet)."""
        run = self._store.get(run_id)
        return _named(self._plans(run), run.id, name).kind

    def open(self, run_id: str, name: str) -> PublishedPort:
        """Service ``name`` of the run's view, published on the host's 127.0.0.1: the open
        one (its idle time starts again), else restored from its verified archive into the
        run's view pod (made first, replacing a leftover one). Concurrent callers for one run
        share one pod. Raises RunNotFound (no such run, or no service ``name`` that can be
        opened: the message names those that can), RunStateError (no archive yet), RunBusy
        (another process holds a view of the run), ArchiveMismatch, SandboxError (the pod
        is then closed)."""
        with self._lock_of(run_id):
            view = self._open.get(run_id)
            if view is not None and name in view.ports:
                view.used = self._clock()
                return view.ports[name]
            run = self._store.get(run_id)
            plans = self._plans(run)
            plan = _named(plans, run_id, name)
            archive = verified_archive(run, name)
            view = view or self._create(run_id, plans)
            try:
                start_services(view.pod, [plan], restore={name: archive})
                published = view.pod.publish(plan.kind.port)
            except BaseException:
                self._close(run_id, "failed to open")
                raise
            view.ports[name] = published
            view.used = self._clock()
            self._store.add_event(run_id, "view.opened", {"service": name, "url": published.url})
            return published

    def touch(self, run_id: str) -> bool:
        """Start the idle time of the run's view again; False when no view of it is open."""
        with self._guard:
            view = self._open.get(run_id)
            if view is not None:
                view.used = self._clock()
            return view is not None

    def close(self, run_id: str, reason: str = "closed") -> bool:
        """Remove the run's view pod (event ``view.closed`` with ``reason``); False when no
        view of it is open here."""
        with self._lock_of(run_id):
            return self._close(run_id, reason)

    def reap(self) -> list[str]:
        """Close every view unused for the idle time; returns their run ids."""
        with self._guard:
            candidates = list(self._open)
        return [run_id for run_id in candidates if self._close_if_idle(run_id)]

    @contextmanager
    def shut(self, run_id: str) -> Iterator[bool]:
        """Keep the run's view from opening while the block runs (for ``gc``): yields False,
        holding nothing, when a view of the run is open in this or another process."""
        with self._lock_of(run_id), ExitStack() as stack:
            held = run_id not in self._open
            if held:
                try:
                    stack.enter_context(self._locks.hold(run_id, "collected"))
                except RunBusy:
                    held = False
            yield held

    def remove_leftover(self, run_id: str) -> int:
        """Remove a view pod nobody holds (call within :meth:`shut`); returns how many
        containers it had, its owner included (0: none)."""
        pod = self._backend.attach_pod(run_id, VIEW_PURPOSE)
        if pod is None:
            return 0
        count = len(pod.containers()) + 1
        pod.remove()
        self._store.add_event(run_id, "view.closed", {"reason": "leftover removed by gc"})
        return count

    # inside ----------------------------------------------------------------------------------
    def _plans(self, run: Run) -> dict[str, ServicePlan]:
        archives = run.service_archives or {}
        if not archives:
            raise RunStateError(
                f"run {run.id} is {run.status.value} without service archives; its services "
                "can be opened once it is submitted"
            )
        challenge = self._provisioner.challenge_of(run)
        return {
            plan.name: plan
            for plan in self._provisioner.service_plans(challenge)
            if plan.kind.data_dir and plan.name in archives
        }

    def _create(self, run_id: str, plans: dict[str, ServicePlan]) -> _View:
        lock = ExitStack()
        lock.enter_context(self._locks.hold(run_id, "viewed"))
        try:
            leftover = self._backend.attach_pod(run_id, VIEW_PURPOSE)
            if leftover is not None:
                leftover.remove()
            pod = self._backend.create_pod(
                run_id,
                VIEW_PURPOSE,
                hosts=list(plans),
                size=pod_size(plan.kind.limits for plan in plans.values()),
            )
        except BaseException:
            lock.close()
            raise
        view = _View(pod, lock, self._clock())
        with self._guard:
            self._open[run_id] = view
            if self._reaper is None and self._reap_every_s is not None:
                self._reaper = threading.Thread(
                    target=self._reap_while_open, name="prodproven-views", daemon=True
                )
                self._reaper.start()
        return view

    def _close(self, run_id: str, reason: str) -> bool:
        with self._guard:
            view = self._open.pop(run_id, None)
        if view is None:
            return False
        try:
            view.pod.remove()
        finally:
            view.lock.close()
            self._store.add_event(
                run_id, "view.closed", {"reason": reason, "services": sorted(view.ports)}
            )
        return True

    def _close_if_idle(self, run_id: str) -> bool:
        with self._lock_of(run_id):
            view = self._open.get(run_id)
            if view is None or self._clock() - view.used < self._idle_s:
                return False
            return self._close(run_id, f"idle for {self._idle_s:.0f} s")

    def _lock_of(self, run_id: str) -> threading.Lock:
        with self._guard:
            return self._per_run.setdefault(run_id, threading.Lock())

    def _reap_while_open(self) -> None:
        assert self._reap_every_s is not None
        while True:
            time.sleep(self._reap_every_s)
            try:
                self.reap()
            except Exception:  # the engine failed one removal: the next round tries the rest
                log.exception("closing idle views failed")
            with self._guard:
                if not self._open:
                    self._reaper = None
                    return
