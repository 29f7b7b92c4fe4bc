"""The fake runner of the unit tests: what the portal (and through it the web app) asks of
``lifecycle.core.Runner``, done at once on a real store without containers."""

from __future__ import annotations

import io
import json
import tarfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, cast

from prodproven.runner.errors import ContainerError, RunStateError
from prodproven.runner.lifecycle.admission import Admission, Capacity
from prodproven.runner.lifecycle.core import Runner
from prodproven.runner.lifecycle.need import Need
from prodproven.runner.runs.lab import LabLink
from prodproven.runner.runs.store import Run, Status, Store, utcnow
from prodproven.runner.runs.workspace import RunPaths
from prodproven.runner.spec.challenge import Challenge

FIXTURES = Path(__file__).parent / "fixtures" / "results"


@dataclass(frozen=True)
class Link:
    """What ``Runner.forward`` returns, as far as its callers read it."""

    url: str


@dataclass
class FakeRunner:
    """Stands in for lifecycle.core.Runner: the store transitions are the real ones, every
    call is recorded, a submitted run has a workspace archive and a graded run the real
    result document of deploy-model."""

    store: Store
    root: Path
    report: Callable[[str], None] = lambda _line: None
    calls: list[tuple[str, Any]] = field(default_factory=list)
    fail_after_create: bool = False
    """``start`` errors the run it created and raises, as when no workspace can be made."""
    on_progress: Callable[[], None] = lambda: None
    """Called by ``start`` right after it reports its progress."""

    def paths(self, run_id: str) -> RunPaths:
        return RunPaths(self.root / run_id)

    def event(self, run_id: str, kind: str, data: dict[str, Any]) -> None:
        self.calls.append(("event", (run_id, kind, data)))
        self.store.add_event(run_id, kind, data)

    def start(
        self,
        challenge: Challenge,
        candidate: str,
        mode: str = "interactive",
        variant: int | None = None,
        fault: str | None = None,
        on_created: Callable[[Run], None] = lambda _: None,
    ) -> Run:
        self.calls.append(("start", (challenge.id, candidate, variant)))
        run = self.store.create_run(
            challenge_id=challenge.id,
            challenge_version=challenge.spec.version,
            challenge_path=str(challenge.root),
            candidate=candidate,
            mode=mode,
            variant=variant,
        )
        on_created(run)
        self.store.transition(run.id, Status.provisioning)
        self.report(f"building images for {challenge.id}")
        self.on_progress()
        if self.fail_after_create:
            self.store.transition(run.id, Status.errored, error="no engine")
            raise ContainerError("the workspace could not be created")
        deadline = utcnow() + timedelta(minutes=challenge.spec.time_limit_minutes)
        return self.store.transition(run.id, Status.running, deadline=deadline)

    def submit(self, run_id: str) -> Run:
        self.calls.append(("submit", run_id))
        archive = self.paths(run_id).archive
        archive.parent.mkdir(parents=True, exist_ok=True)
        write_workspace(archive)
        self.store.transition(run_id, Status.submitted, submitted_at=utcnow())
        self.store.update(run_id, archive_path=str(archive), archive_sha256="0" * 64)
        return self.store.get(run_id)

    def grade(self, run_id: str) -> Run:
        self.calls.append(("grade", run_id))
        document = json.loads((FIXTURES / "deploy-model.json").read_text())
        document["run_id"] = run_id
        self.store.transition(run_id, Status.grading, grading_attempts=1)
        return self.store.transition(
            run_id, Status.graded, score=document["score"], result=document, graded_at=utcnow()
        )

    def finish(self, run_id: str) -> Run:
        if self.store.get(run_id).status is Status.running:
            self.submit(run_id)
        elif self.store.get(run_id).status is not Status.submitted:
            raise RunStateError(f"run {run_id} is past submitted")
        return self.grade(run_id)

    def cancel(self, run_id: str, reason: str) -> Run:
        self.calls.append(("cancel", (run_id, reason)))
        return self.store.transition(run_id, Status.cancelled, error=reason)

    def lab(self, run_id: str) -> LabLink:
        self.calls.append(("lab", run_id))
        token = f"t-{run_id}"
        return LabLink(url=f"http://127.0.0.1:1/lab?token={token}", port=1, token=token)

    def forward(self, run_id: str, name: str) -> Link:
        self.calls.append(("forward", (run_id, name)))
        return Link(f"http://127.0.0.1:2/{name}")

    def called(self, name: str) -> list[Any]:
        """The arguments of each call of method ``name``, in order."""
        return [args for method, args in self.calls if method == name]


def as_runner(fake: object) -> Runner:
    """``fake`` where the code takes the real Runner (which needs a container engine): the
    fakes have the methods their code under test calls, with the Runner's signatures."""
    return cast(Runner, fake)


def write_workspace(path: Path) -> None:
    """A workspace archive with an app, a notebook and a page that must not run as HTML."""
    notebook = {
        "cells": [
            {
                "cell_type": "markdown",
                "id": "a",
                "metadata": {},
                "source": "# Drift <script>x()</script>",
            },
            {
                "cell_type": "code",
                "id": "b",
                "execution_count": 1,
                "metadata": {},
                "source": "print(1 + 1)",
                "outputs": [{"output_type": "stream", "name": "stdout", "text": "2\n"}],
            },
        ],
        "metadata": {},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    files = {
        "./app.py": b"print('hello')\n",
        "./analysis.ipynb": json.dumps(notebook).encode(),
        "./page.html": b"<script>alert(1)</script>",
    }
    with tarfile.open(path, "w") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


def queued_on_cluster(store: Store, candidate: str, reason: str = "no suitable node") -> Run:
    """An interactive run admitted here whose pod a cluster's scheduler left pending: it holds
    its reservation and waits in ``queued`` with the cluster's ``reason``."""
    run = store.create_run(
        challenge_id="deploy-model",
        challenge_version="1.0.0",
        challenge_path="/c",
        candidate=candidate,
        mode="interactive",
    )
    admission = Admission(store, lambda: Capacity(2**30, None), lambda run_id: True)
    assert admission.ask(run.id, Need(2**29, 0.5)) is None
    return store.transition(run.id, Status.queued, error=reason)
