"""A web app over a real store with the fake runner (no containers): runs start, submit and
grade instantly, graded with a real result document of deploy-model."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from fastapi import FastAPI
from fastapi.testclient import TestClient

from prodproven.runner.config import Settings
from prodproven.runner.portal.access import Actor
from prodproven.runner.portal.core import Portal
from prodproven.runner.runs.store import Store
from prodproven.runner.web.app import create_app
from prodproven.runner.web.jobs import Jobs
from tests.unit.fakes import FakeRunner, as_runner

PASSWORD = "correct horse battery"


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

    def api(self, email: str = "ada@acme.test", *scopes: str, firm: str = "acme") -> TestClient:
        """A client of the JSON API with a (new) token of ``email`` at ``firm``."""
        client = self.client()
        client.headers["Authorization"] = f"Bearer {self.token(email, *scopes, firm=firm)}"
        return client

    def candidate(self, link: str) -> TestClient:
        """A browser that opened an invitation link and pressed its button."""
        client = self.client()
        path = link.removeprefix(self.settings.base_url)
        page = client.get(path, follow_redirects=False)
        assert page.status_code == 200, page.text
        response = client.post(path, data={"csrf": csrf_of(page.text)}, follow_redirects=False)
        assert response.status_code == 303, response.text
        return client


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "the page has no CSRF field"
    return found.group(1)


def jobs_of(browser: TestClient) -> Jobs:
    """The background jobs (starting, grading) of the app behind ``browser``."""
    app = browser.app
    assert isinstance(app, FastAPI)
    jobs: Jobs = app.state.jobs
    return jobs


def make_web(tmp_path: Path, env: dict[str, str] | None = None) -> Web:
    """The app over a store in ``tmp_path``, with settings from ``env`` (PRODPROVEN_*)."""
    settings = Settings.from_env(env or {}, data_dir=tmp_path)
    store = Store(settings.store_url)
    fake = FakeRunner(store, tmp_path / "runs")
    portal = Portal(settings, store, lambda _progress: as_runner(fake), supervise=lambda *_: 4242)
    return Web(portal, fake, settings)


def graded_run(web: Web, name: str = "Dana") -> str:
    """The id of a graded run of deploy-model invited by acme's lead for ``name``."""
    _, link = web.portal.invitations.invite(
        Actor("lead@acme.test", "acme"), "deploy-model", name, f"{name.lower()}@x.test"
    )
    invitation = web.portal.records.invitations.redeem(link.rsplit("/", 1)[1])
    run = web.portal.invited.start(invitation.id)
    web.portal.invited.submit(invitation.id)
    return run.id
