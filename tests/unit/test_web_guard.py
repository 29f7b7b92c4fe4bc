"""What every request and answer passes through (runner/web/guard.py): bodies capped while they
are received, the security headers on every answer, errors included, and an unexpected error
answered with a reference, never a traceback."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from prodproven.runner.config import Settings
from prodproven.runner.web.app import HSTS, SECURITY_HEADERS, security_headers
from prodproven.runner.web.guard import MAX_BODY
from tests.unit.websupport import Web, csrf_of, make_web


@pytest.fixture
def web(tmp_path: Path) -> Web:
    return make_web(tmp_path)


def chunks(size: int) -> Iterator[bytes]:
    """A body of ``size`` bytes sent without a Content-Length."""
    for _ in range(size // 65536):
        yield b"x" * 65536


def test_a_body_over_the_cap_is_refused_with_413_before_the_app_reads_it(web: Web) -> None:
    api = web.client().post(
        "/api/runs/r/notes",
        content=b"x" * (MAX_BODY + 1),
        headers={"Authorization": "Bearer nope", "Content-Type": "application/json"},
    )
    assert api.status_code == 413 and "limit" in api.json()["detail"]
    page = web.client().post("/login", content=b"x" * (MAX_BODY + 1))
    assert page.status_code == 413 and page.headers["content-type"].startswith("text/html")
    assert page.headers["x-frame-options"] == "DENY"


def test_a_body_without_a_length_is_counted_while_it_is_received(web: Web) -> None:
    browser = web.assessor()
    csrf = csrf_of(browser.get("/invitations").text)
    answer = browser.post(
        "/invitations",
        content=chunks(4 * MAX_BODY),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert answer.status_code == 413
    assert web.portal.records.invitations.list() == []
    small = browser.post("/invitations", data={"csrf": csrf, "challenge": "deploy-model"})
    assert small.status_code == 400  # an ordinary body still reaches the app


def test_a_500_page_carries_the_security_headers_and_a_reference_not_a_traceback(
    web: Web, caplog: pytest.LogCaptureFixture
) -> None:
    client = web.client()
    app = client.app
    assert isinstance(app, FastAPI)

    def boom() -> None:
        raise RuntimeError("internal detail /srv/secret")

    app.add_api_route("/boom", boom)
    app.add_api_route("/api/boom", boom)
    with caplog.at_level(logging.ERROR):
        page = client.get("/boom")
        api = client.get("/api/boom")
    assert page.status_code == 500 and api.status_code == 500
    for name, value in SECURITY_HEADERS.items():
        assert page.headers[name] == value
    assert "internal detail" not in page.text and "Traceback" not in page.text
    reference = api.json()["detail"].rsplit("reference ", 1)[1].rstrip(")")
    assert f"(reference {reference})" in caplog.text and "internal detail" in caplog.text


def test_static_files_may_be_cached_and_pages_not(web: Web) -> None:
    client = web.client()
    assert "cache-control" not in client.get("/static/app.css").headers
    assert client.get("/login").headers["cache-control"] == "no-store"


def test_a_malformed_body_is_422_without_the_value_sent(web: Web) -> None:
    client = TestClient(web.client().app)
    answer = client.post(
        "/api/invitations",
        content='{"challenge": "deploy-model", "candidate_name": NaN}',
        headers={"Authorization": f"Bearer {web.token()}", "Content-Type": "application/json"},
    )
    assert answer.status_code == 422
    assert all(set(problem) == {"loc", "msg", "type"} for problem in answer.json()["detail"])


def test_hsts_is_sent_only_when_people_reach_the_app_over_tls(tmp_path: Path) -> None:
    plain = Settings.from_env({}, data_dir=tmp_path)
    tls = Settings.from_env(
        {"PRODPROVEN_PUBLIC_URL": "https://assess.example.com"}, data_dir=tmp_path
    )
    assert "Strict-Transport-Security" not in security_headers(plain)
    assert security_headers(tls) == {**SECURITY_HEADERS, **HSTS}
    assert HSTS["Strict-Transport-Security"].startswith("max-age=31536000")
