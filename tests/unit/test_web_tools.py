"""A run's tools through the web app (runner/web/tools.py): the candidate's services and ports
under /candidate/tools/NAME/, and a graded run's restored services for assessors, read-only,
under /runs/RUN/tools/NAME/; against real upstreams on loopback (tests/unit/upstreamsupport.py)
served from their ``/`` as MLflow and a candidate's service are."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from starlette.websockets import WebSocketDisconnect

from prodproven.runner.portal.access import Actor
from prodproven.runner.portal.runs import ToolView
from prodproven.runner.runs.store import Status
from prodproven.runner.web import upstream as upstream_module
from prodproven.runner.web.guard import MAX_BODY
from prodproven.runner.web.upstream import SANDBOX
from prodproven.sandbox.environment import PublishedPort
from prodproven.sandbox.services import MLFLOW as MLFLOW_KIND
from tests.unit.fakes import FakeRunner
from tests.unit.upstreamsupport import Upstream, running_candidate, web_over
from tests.unit.websupport import Web

ORIGIN = "http://127.0.0.1:8080"  # the test client's base URL: the app's own origin
MLFLOW = "/candidate/tools/mlflow/"
SERVICE = "/candidate/tools/service/"


@dataclass
class ToolRunner(FakeRunner):
    """The fake runner, with every service and port of every run at ``default``, except those
    in ``upstreams`` by (run, name); its forwards are the real runner's PublishedPort (the
    fake's Link has no port)."""

    default: Upstream | None = None
    upstreams: dict[tuple[str, str], Upstream] = field(default_factory=dict)

    def forward(self, run_id: str, name: str) -> PublishedPort:  # type: ignore[override]
        self.calls.append(("forward", (run_id, name)))
        upstream = self.upstreams.get((run_id, name), self.default)
        assert upstream is not None
        return PublishedPort(inner_port=5000, host="127.0.0.1", host_port=upstream.port)


@pytest.fixture
def upstream() -> Iterator[Upstream]:
    server = Upstream("first", token=False)
    yield server
    server.stop()


@pytest.fixture
def web(tmp_path: Path, upstream: Upstream) -> Web:
    return web_over(tmp_path, lambda store, runs: ToolRunner(store, runs, default=upstream))


def runner_of(web: Web) -> ToolRunner:
    assert isinstance(web.runner, ToolRunner)
    return web.runner


# the candidate's tools -------------------------------------------------------------------------
def test_a_tool_is_served_from_its_root_under_its_prefix(web: Web, upstream: Upstream) -> None:
    browser, run_id = running_candidate(web, challenge="fix-drift")
    response = browser.post(
        f"{MLFLOW}ajax-api/2.0/mlflow/runs/search%20x?max=5",
        content=b'{"experiment_ids": ["0"]}',
        headers={"Content-Type": "application/json", "Origin": ORIGIN},
    )
    assert response.status_code == 200, response.text
    got = response.json()
    assert (got["method"], got["path"], got["query"]) == (
        "POST",
        "/ajax-api/2.0/mlflow/runs/search%20x",
        "max=5",
    )
    assert got["body"] == '{"experiment_ids": ["0"]}'
    assert got["headers"]["host"] == f"127.0.0.1:{upstream.port}"
    assert "authorization" not in got["headers"] and "pp_" not in got["headers"].get("cookie", "")
    assert runner_of(web).called("forward") == [(run_id, "mlflow")]


def test_without_the_trailing_slash_a_tool_redirects_to_its_root(web: Web) -> None:
    browser, _ = running_candidate(web, challenge="fix-drift")
    moved = browser.get("/candidate/tools/mlflow", follow_redirects=False)
    assert (moved.status_code, moved.headers["location"]) == (303, MLFLOW)
    assert browser.get("/candidate/tools/lab", follow_redirects=False).headers["location"] == (
        "/candidate/lab/lab"
    )


def test_redirects_and_cookies_stay_under_the_prefix(web: Web) -> None:
    browser, _ = running_candidate(web, challenge="fix-drift")
    absolute = browser.get(f"{MLFLOW}x/redirect", follow_redirects=False)
    assert absolute.headers["location"] == f"{MLFLOW}lab"
    rooted = browser.get(f"{MLFLOW}x/moved", follow_redirects=False)
    assert rooted.headers["location"] == f"{MLFLOW}elsewhere?x=1"
    set_cookies = rooted.headers.get_list("set-cookie")
    assert any(c.startswith("_xsrf=") for c in set_cookies)
    assert not any(c.startswith("pp_") for c in set_cookies)


def test_the_forward_is_asked_for_once_per_run_and_tool(web: Web, upstream: Upstream) -> None:
    browser, run_id = running_candidate(web, challenge="fix-drift")
    with browser:
        for _ in range(5):
            assert browser.get(f"{MLFLOW}ajax-api/x").status_code == 200
    assert runner_of(web).called("forward") == [(run_id, "mlflow")]
    events = [e.kind for e in web.portal.records.store.events(run_id)]
    assert events.count("port.forwarded") <= 1  # the fake records none; the runner records one


def test_a_forward_that_died_is_asked_for_again(web: Web, upstream: Upstream) -> None:
    browser, run_id = running_candidate(web, challenge="fix-drift")
    assert browser.get(f"{MLFLOW}a").json()["upstream"] == "first"
    upstream.stop()
    replacement = Upstream("again", token=False)
    try:
        runner_of(web).default = replacement
        again = browser.put(f"{MLFLOW}b", content=b"kept", headers={"Origin": ORIGIN})
        assert (again.json()["upstream"], again.json()["body"]) == ("again", "kept")
        assert runner_of(web).called("forward") == [(run_id, "mlflow")] * 2
    finally:
        replacement.stop()


def test_the_mlflow_ui_is_trusted_and_everything_else_sandboxed(web: Web) -> None:
    browser, _ = running_candidate(web, challenge="fix-drift")
    for trusted in (MLFLOW, f"{MLFLOW}static-files/static/js/main.js"):
        answer = browser.get(trusted)
        assert "sandbox" not in answer.headers.get("content-security-policy", ""), trusted
    artifact = browser.get(f"{MLFLOW}get-artifact?path=model.html&run_uuid=r")
    assert SANDBOX in artifact.headers.get_list("content-security-policy")
    assert artifact.headers["x-content-type-options"] == "nosniff"


def test_a_candidates_service_is_sandboxed_everywhere(web: Web) -> None:
    browser, _ = running_candidate(web)  # deploy-model: the declared port "service"
    for path in ("", "page.html", "docs"):
        answer = browser.get(f"{SERVICE}{path}")
        assert answer.status_code == 200
        assert SANDBOX in answer.headers.get_list("content-security-policy")
        assert answer.headers.get_list("x-content-type-options") == ["nosniff"]
        assert "x-frame-options" not in answer.headers  # not the app's own page


def test_only_the_candidates_own_session_opens_their_tools(web: Web, upstream: Upstream) -> None:
    second = Upstream("second", token=False)
    try:
        first_browser, _ = running_candidate(web, "Finn", challenge="fix-drift")
        second_browser, second_run = running_candidate(web, "Gus", challenge="fix-drift")
        runner_of(web).upstreams[(second_run, "mlflow")] = second
        assert first_browser.get(f"{MLFLOW}x").json()["upstream"] == "first"
        assert second_browser.get(f"{MLFLOW}x").json()["upstream"] == "second"
        upstream.tokens.clear()
        assert web.client().get(f"{MLFLOW}x").status_code == 401
        assert web.assessor().get(f"{MLFLOW}x").status_code == 401
        assert upstream.tokens == []  # nothing reached the tool
    finally:
        second.stop()


def test_another_sites_requests_are_refused_before_they_are_forwarded(
    web: Web, upstream: Upstream
) -> None:
    browser, _ = running_candidate(web, challenge="fix-drift")
    upstream.tokens.clear()
    path = f"{MLFLOW}ajax-api/2.0/mlflow/registered-models/create"
    assert browser.post(path, headers={"Origin": "https://evil.test"}).status_code == 403
    assert browser.post(path, headers={"Origin": "null"}).status_code == 403  # a sandboxed page
    assert browser.post(path, headers={"Sec-Fetch-Site": "cross-site"}).status_code == 403
    assert upstream.tokens == []


def test_an_unknown_tool_or_a_run_that_is_not_running_has_none(
    web: Web, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(upstream_module, "RECHECK_S", 0.0)
    browser, run_id = running_candidate(web, challenge="fix-drift")
    unknown = browser.get("/candidate/tools/nope/")
    assert unknown.status_code == 400 and "no tool named &#39;nope&#39;" in unknown.text
    assert runner_of(web).called("forward") == []
    assert browser.get(MLFLOW).status_code == 200
    web.portal.records.store.transition(run_id, Status.submitted)
    closed = browser.get(MLFLOW)
    assert closed.status_code == 409 and "submitted" in closed.text


def test_tool_bodies_get_the_larger_cap(web: Web) -> None:
    browser, _ = running_candidate(web, challenge="fix-drift")
    big = b"x" * (MAX_BODY + 1)
    posted = browser.post(f"{MLFLOW}ajax-api/upload", content=big, headers={"Origin": ORIGIN})
    assert posted.status_code == 200 and len(posted.json()["body"]) == len(big)


def test_a_tools_websocket_relays_and_refuses_like_the_labs(web: Web) -> None:
    browser, _ = running_candidate(web)
    url = f"ws://127.0.0.1:8080{SERVICE}ws/live"
    with browser.websocket_connect(url, headers={"Origin": ORIGIN}) as ws:
        assert ws.receive_text() == "hello from first"
        ws.send_text("ping")
        assert ws.receive_text() == "PING"
    for client, headers in [(browser, {"Origin": "null"}), (web.client(), {"Origin": ORIGIN})]:
        with (
            pytest.raises(WebSocketDisconnect) as refused,
            client.websocket_connect(url, headers=headers),
        ):
            pass
        assert refused.value.code == 1008


# the assessor's read-only view -----------------------------------------------------------------
def graded_run(web: Web) -> str:
    invitation, _ = web.portal.invitations.invite(
        Actor("lead@acme.test", "acme"), "fix-drift", "Hana", "hana@x.test"
    )
    run_id = web.portal.invited.start(invitation.id).id
    web.portal.records.store.update(run_id, service_archives={"mlflow": {"sha256": "0" * 64}})
    return web.portal.invited.submit(invitation.id).id


def reads(method: str, path: str) -> bool:
    """What the fake view lets through: GET, and one search."""
    return method == "GET" or path == "/ajax-api/2.0/mlflow/runs/search"


@pytest.fixture
def views(web: Web, upstream: Upstream, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """``Portal.runs.tool_view`` at the upstream, allowing GET and one search POST; the
    labels of the actors it was asked for."""
    asked: list[str] = []
    runs = web.portal.runs

    def tool_view(actor: Actor, run_id: str, name: str) -> ToolView:
        runs.get(actor, run_id)  # the firm's runs only
        asked.append(actor.label)
        return ToolView(run_id, name, upstream.port, reads, MLFLOW_KIND.trusted_ui)

    monkeypatch.setattr(runs, "tool_view", tool_view)
    return asked


def test_an_assessor_opens_a_graded_runs_service_read_only(web: Web, views: list[str]) -> None:
    run_id = graded_run(web)
    assessor = web.assessor()
    root = f"/runs/{run_id}/tools/mlflow/"
    moved = assessor.get(root.rstrip("/"), follow_redirects=False)
    assert moved.headers["location"] == root
    page = assessor.get(f"/runs/{run_id}").text
    assert f'href="{root}"' in page and "open mlflow (read-only)" in page
    read = assessor.get(f"{root}ajax-api/2.0/mlflow/registered-models/search")
    assert read.status_code == 200 and read.json()["path"] == (
        "/ajax-api/2.0/mlflow/registered-models/search"
    )
    searched = assessor.post(f"{root}ajax-api/2.0/mlflow/runs/search", headers={"Origin": ORIGIN})
    assert searched.status_code == 200
    written = assessor.post(
        f"{root}ajax-api/2.0/mlflow/registered-models/create", headers={"Origin": ORIGIN}
    )
    assert written.status_code == 405 and "read-only" in written.text
    artifact = assessor.get(f"{root}get-artifact?path=x")
    assert SANDBOX in artifact.headers.get_list("content-security-policy")
    assert views == ["ada@acme.test"]  # remembered for a moment, not asked on every request


def test_the_view_needs_an_assessor_of_the_runs_firm(web: Web, views: list[str]) -> None:
    run_id = graded_run(web)
    root = f"/runs/{run_id}/tools/mlflow/"
    anonymous = web.client().get(root, follow_redirects=False)
    assert anonymous.status_code == 303 and anonymous.headers["location"].startswith("/login")
    assert web.assessor("eve@other.test", "other").get(root).status_code == 404
    browser, _ = running_candidate(web, challenge="fix-drift")
    assert browser.get(root, follow_redirects=False).status_code == 303  # to the sign-in page
    assert views == []
