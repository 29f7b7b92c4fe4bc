"""A web app over a real store with a fake runner (no containers): runs start, submit and
grade instantly, graded with a real result document of deploy-model."""

from __future__ import annotations

import io
import json
import re
import tarfile
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from prodproven.runner.config import Settings
from prodproven.runner.portal.core import Portal
from prodproven.runner.runs.lifecycle import RunPaths
from prodproven.runner.runs.store import Run, Status, Store, utcnow
from prodproven.runner.web.app import create_app

FIXTURES = Path(__file__).parent / "fixtures" / "results"
PASSWORD = "correct horse battery"


@dataclass
class Link:
    url: str


@dataclass
class FakeRunner:
    """Stands in for runs.lifecycle.Runner: the store transitions are the real ones."""

    store: Store
    root: Path
    lab_calls: list[str] = field(default_factory=list)

    def paths(self, run_id: str) -> RunPaths:
        return RunPaths(self.root / run_id)

    def event(self, run_id: str, kind: str, data: dict[str, Any]) -> None:
        self.store.add_event(run_id, kind, data)

    def start(self, challenge: Any, candidate: str, **options: Any) -> Run:
        run = self.store.create_run(
            challenge_id=challenge.id,
            challenge_version=challenge.spec.version,
            challenge_path=str(challenge.root),
            candidate=candidate,
            mode="interactive",
            variant=options.get("variant"),
        )
        options.get("on_created", lambda _: None)(run)
        self.store.transition(run.id, Status.provisioning)
        deadline = utcnow() + timedelta(minutes=challenge.spec.time_limit_minutes)
        return self.store.transition(run.id, Status.running, deadline=deadline)

    def submit(self, run_id: str) -> Run:
        archive = self.paths(run_id).archive
        archive.parent.mkdir(parents=True, exist_ok=True)
        write_workspace(archive)
        self.store.transition(run_id, Status.submitted, submitted_at=utcnow())
        self.store.update(run_id, archive_path=str(archive), archive_sha256="0" * 64)
        return self.store.get(run_id)

    def grade(self, run_id: str) -> Run:
        document = json.loads((FIXTURES / "deploy-model.json").read_text())
        document["run_id"] = run_id
        self.store.transition(run_id, Status.grading, grading_attempts=1)
        return self.store.transition(
            run_id, Status.graded, score=document["score"], result=document, graded_at=utcnow()
        )

    def lab(self, run_id: str) -> Link:
        self.lab_calls.append(run_id)
        return Link(f"http://127.0.0.1:1/lab?token=t-{run_id}")

    def forward(self, run_id: str, name: str) -> Link:
        return Link(f"http://127.0.0.1:2/{name}")


def write_workspace(path: Path) -> None:
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


@dataclass
class Web:
    portal: Portal
    runner: FakeRunner
    settings: Settings

    def client(self) -> TestClient:
        return TestClient(create_app(self.portal), base_url="http://127.0.0.1:8080")

    def assessor(self, email: str = "ada@acme.test", firm: str = "acme") -> TestClient:
        """A browser signed in as a (new) assessor of ``firm``."""
        if email not in {a.email for a in self.portal.accounts.assessors()}:
            self.portal.accounts.add_assessor(email, email.split("@")[0].title(), firm, PASSWORD)
        client = self.client()
        page = client.get("/login")
        response = client.post(
            "/login",
            data={
                "email": email,
                "password": PASSWORD,
                "csrf": csrf_of(page.text),
                "next": "/runs",
            },
            follow_redirects=False,
        )
        assert response.status_code == 303, response.text
        return client

    def token(self, email: str = "ada@acme.test", *scopes: str, firm: str = "acme") -> str:
        if email not in {a.email for a in self.portal.accounts.assessors()}:
            self.portal.accounts.add_assessor(email, "", firm, PASSWORD)
        _, secret = self.portal.accounts.create_token(
            email, "test", scopes or ("read", "invite", "review")
        )
        return secret

    def candidate(self, link: str) -> TestClient:
        """A browser that opened an invitation link."""
        client = self.client()
        response = client.get(link.removeprefix(self.settings.base_url), follow_redirects=False)
        assert response.status_code == 303, response.text
        return client


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "the page has no CSRF field"
    return found.group(1)


def make_web(tmp_path: Path) -> Web:
    settings = Settings.from_env({}, data_dir=tmp_path)
    store = Store(settings.store_url)
    fake = FakeRunner(store, tmp_path / "runs")
    portal = Portal(settings, store, lambda _progress: fake, supervise=lambda *_: 4242)  # type: ignore[arg-type,return-value]
    return Web(portal, fake, settings)
