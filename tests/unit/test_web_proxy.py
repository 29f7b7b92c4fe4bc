"""The candidate's JupyterLab through the web app (runner/web/proxy.py, over the proxy core of
runner/web/upstream.py), against a real upstream on loopback standing in for JupyterLab
(tests/unit/upstreamsupport.py): it answers only with the run's token and echoes what it got,
over HTTP and WebSocket."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from starlette.websockets import WebSocketDisconnect

from prodproven.runner.runs.lab import LAB_BASE_URL, LabLink
from prodproven.runner.runs.store import Status
from prodproven.runner.web import upstream as upstream_module
from prodproven.runner.web.app import SECURITY_HEADERS
from prodproven.runner.web.proxy import BANNER
from tests.unit.fakes import FakeRunner
from tests.unit.upstreamsupport import PAGE, Upstream, running_candidate, web_over
from tests.unit.websupport import Web

ORIGIN = "http://127.0.0.1:8080"  # the test client's base URL: the app's own origin
WS = f"ws://127.0.0.1:8080{LAB_BASE_URL}"  # absolute, so the browser's cookies go along


# the app with a runner whose labs are those upstreams ------------------------------------------
@dataclass
class LabRunner(FakeRunner):
    """The fake runner, with each run's lab at an upstream (``upstreams[run]``, else
    ``default``)."""

    default: Upstream | None = None
    upstreams: dict[str, Upstream] = field(default_factory=dict)

    def lab(self, run_id: str) -> LabLink:
        self.calls.append(("lab", run_id))
        upstream = self.upstreams.get(run_id, self.default)
        assert upstream is not None
        url = f"http://127.0.0.1:{upstream.port}{LAB_BASE_URL}lab?token=t-{run_id}"
        return LabLink(url=url, port=upstream.port, token=f"t-{run_id}")


def lab(name: str) -> Upstream:
    """A stand-in for JupyterLab: under its base URL, answering only with a token."""
    return Upstream(name, LAB_BASE_URL)


@pytest.fixture
def upstream() -> Iterator[Upstream]:
    server = lab("first")
    yield server
    server.stop()


@pytest.fixture
def web(tmp_path: Path, upstream: Upstream) -> Web:
    return web_over(tmp_path, lambda store, runs: LabRunner(store, runs, default=upstream))


def runner_of(web: Web) -> LabRunner:
    assert isinstance(web.runner, LabRunner)
    return web.runner


# HTTP ------------------------------------------------------------------------------------------
def test_a_request_reaches_the_candidates_lab_with_its_token(web: Web, upstream: Upstream) -> None:
    browser, run_id = running_candidate(web)
    response = browser.put(
        f"{LAB_BASE_URL}api/contents/a%20b/nb.ipynb?type=notebook&x=1",
        content=b'{"content": 1}',
        headers={"Content-Type": "application/json", "X-XSRFToken": "whatever"},
    )
    assert response.status_code == 200, response.text
    got = response.json()
    assert got["method"] == "PUT"
    assert got["path"] == f"{LAB_BASE_URL}api/contents/a%20b/nb.ipynb"  # encoding kept
    assert got["query"] == "type=notebook&x=1"
    assert got["body"] == '{"content": 1}'
    assert got["headers"]["authorization"] == f"token t-{run_id}"
    assert got["headers"]["x-xsrftoken"] == "whatever"
    assert got["headers"]["host"] == f"127.0.0.1:{upstream.port}"


def test_the_apps_cookies_are_not_forwarded_nor_set_by_the_lab(web: Web) -> None:
    browser, _ = running_candidate(web)
    browser.cookies.set("_xsrf", "from-browser")
    response = browser.get(f"{LAB_BASE_URL}api/status")
    cookie = response.json()["headers"]["cookie"]
    assert "_xsrf=from-browser" in cookie and "pp_" not in cookie
    set_cookies = response.headers.get_list("set-cookie")
    assert any(c.startswith("_xsrf=") for c in set_cookies)
    assert not any(c.startswith("pp_") for c in set_cookies)


def test_jupyterlabs_pages_get_the_alert_banner_decoded_with_their_new_length(web: Web) -> None:
    browser, _ = running_candidate(web)
    page = browser.get(f"{LAB_BASE_URL}page.html")  # gzipped by the upstream
    assert page.content == PAGE.replace(b"</BODY>", BANNER + b"</BODY>")
    assert BANNER == b'<script src="/static/alerts.js" defer></script>'
    assert "content-encoding" not in page.headers
    assert page.headers["content-length"] == str(len(page.content))
    assert b"alerts.js" not in browser.get(f"{LAB_BASE_URL}api/status").content  # JSON


def test_jupyterlabs_own_headers_replace_the_apps_security_headers(web: Web) -> None:
    browser, _ = running_candidate(web)
    proxied = browser.get(f"{LAB_BASE_URL}lab")
    assert proxied.headers["content-security-policy"] == "frame-ancestors 'self'"
    assert "x-frame-options" not in proxied.headers
    assert "access-control-allow-origin" not in proxied.headers
    page = browser.get("/candidate")
    for name, value in SECURITY_HEADERS.items():
        assert page.headers[name] == value


def test_bodies_stream_and_redirects_stay_on_the_apps_origin(web: Web) -> None:
    with running_candidate(web)[0] as browser:  # with its lifespan: the shared client
        streamed = browser.get(f"{LAB_BASE_URL}stream")
        assert streamed.text == "".join(f"chunk {i}\n" for i in range(5))
        moved = browser.get(f"{LAB_BASE_URL}redirect", follow_redirects=False)
        assert moved.status_code == 302 and moved.headers["location"] == f"{LAB_BASE_URL}lab"
        big = b"x" * (3 << 20)  # over RETRYABLE_BODY: streamed upstream
        posted = browser.post(f"{LAB_BASE_URL}api/upload", content=big)
        assert len(posted.json()["body"]) == len(big)


def test_without_a_candidate_session_there_is_no_lab(web: Web, upstream: Upstream) -> None:
    running_candidate(web)
    for method in ("GET", "POST", "PUT", "DELETE"):
        assert web.client().request(method, f"{LAB_BASE_URL}api/contents").status_code == 401
    assert web.assessor().get(f"{LAB_BASE_URL}lab").status_code == 401
    assert upstream.tokens == []  # nothing reached the lab


def test_each_candidate_reaches_only_their_own_lab(web: Web, tmp_path: Path) -> None:
    second = lab("second")
    try:
        first_browser, first_run = running_candidate(web, "Finn")
        second_browser, second_run = running_candidate(web, "Gus")
        runner_of(web).upstreams[second_run] = second
        first = first_browser.get(f"{LAB_BASE_URL}api/status").json()
        other = second_browser.get(f"{LAB_BASE_URL}api/status").json()
        assert (first["upstream"], first["headers"]["authorization"]) == (
            "first",
            f"token t-{first_run}",
        )
        assert (other["upstream"], other["headers"]["authorization"]) == (
            "second",
            f"token t-{second_run}",
        )
    finally:
        second.stop()


def test_a_request_from_another_site_is_refused(web: Web, upstream: Upstream) -> None:
    browser, _ = running_candidate(web)
    path = f"{LAB_BASE_URL}api/terminals"
    assert browser.post(path, headers={"Origin": "https://evil.test"}).status_code == 403
    assert browser.post(path, headers={"Sec-Fetch-Site": "cross-site"}).status_code == 403
    assert browser.post(path, headers={"Origin": ORIGIN}).status_code == 200
    followed_link = {"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "navigate"}
    assert browser.get(f"{LAB_BASE_URL}lab", headers=followed_link).status_code == 200
    assert upstream.tokens and len(upstream.tokens) == 2


def test_a_run_that_is_not_running_has_no_lab(web: Web, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(upstream_module, "RECHECK_S", 0.3)
    browser, run_id = running_candidate(web)
    assert browser.get(f"{LAB_BASE_URL}lab").status_code == 200
    web.portal.records.store.transition(run_id, Status.submitted)
    time.sleep(0.4)  # the session and run are checked again after RECHECK_S
    response = browser.get(f"{LAB_BASE_URL}lab")
    assert response.status_code == 409 and "submitted" in response.text
    with (
        pytest.raises(WebSocketDisconnect),
        browser.websocket_connect(f"{WS}ws/x", headers={"Origin": ORIGIN}),
    ):
        pass


def test_the_session_and_run_are_not_read_on_every_request(
    web: Web, monkeypatch: pytest.MonkeyPatch
) -> None:
    browser, _ = running_candidate(web)
    reads: list[str] = []
    session = web.portal.records.accounts.session

    def counted(*args: Any) -> object:
        reads.append("session")
        return session(*args)

    monkeypatch.setattr(web.portal.records.accounts, "session", counted)
    with browser:  # one app instance for all the requests
        for _ in range(20):
            assert browser.get(f"{LAB_BASE_URL}api/status").status_code == 200
    assert len(reads) <= 2


def test_the_lab_is_looked_up_once_and_again_when_it_died(web: Web, upstream: Upstream) -> None:
    browser, run_id = running_candidate(web)
    for _ in range(3):
        assert browser.get(f"{LAB_BASE_URL}api/status").json()["upstream"] == "first"
    assert runner_of(web).called("lab") == [run_id]  # cached
    upstream.stop()
    replacement = lab("restarted")
    try:
        runner_of(web).default = replacement
        response = browser.put(f"{LAB_BASE_URL}api/contents/x.txt", content=b"saved")
        assert response.status_code == 200 and response.json()["upstream"] == "restarted"
        assert response.json()["body"] == "saved"  # sent again after the re-lookup
        assert runner_of(web).called("lab") == [run_id, run_id]
        replacement.stop()
        gone = browser.get(f"{LAB_BASE_URL}api/status")
        assert gone.status_code == 502  # asked once more, then gave up
        assert runner_of(web).called("lab") == [run_id, run_id, run_id]
    finally:
        replacement.stop()


# WebSocket -------------------------------------------------------------------------------------
def test_a_websocket_relays_both_ways_with_its_subprotocol(web: Web, upstream: Upstream) -> None:
    browser, run_id = running_candidate(web)
    with browser.websocket_connect(
        f"{WS}ws/kernels/k1/channels?session_id=s",
        headers={"Origin": ORIGIN},
        subprotocols=["v1.kernel.websocket.jupyter.org"],
    ) as ws:
        assert ws.accepted_subprotocol == "v1.kernel.websocket.jupyter.org"
        assert ws.receive_text() == "hello from first"
        ws.send_text("ping")
        assert ws.receive_text() == "PING"
        ws.send_bytes(b"\x00\x01\x02")
        assert ws.receive_bytes() == b"\x02\x01\x00"
        ws.send_text("close please")
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_text()
        assert closed.value.code == 4321
    assert upstream.tokens[-1] == f"t-{run_id}"


def test_the_browser_closing_a_websocket_closes_the_labs_with_its_code(
    web: Web, upstream: Upstream
) -> None:
    browser, _ = running_candidate(web)
    with browser.websocket_connect(f"{WS}ws/terminals/1", headers={"Origin": ORIGIN}) as ws:
        assert ws.receive_text() == "hello from first"
        ws.close(4000)
    deadline = time.monotonic() + 10
    while not upstream.closed:
        assert time.monotonic() < deadline, "the lab's end was not closed"
        time.sleep(0.02)
    assert upstream.closed == [4000]


def test_a_websocket_from_another_origin_or_without_a_session_is_refused(
    web: Web, upstream: Upstream
) -> None:
    """Refused before the handshake completes: the browser sees HTTP 403."""
    browser, _ = running_candidate(web)
    path = f"{WS}ws/terminals/websocket/1"
    attempts = [
        (browser, {"Origin": "https://evil.test"}),
        (browser, {}),
        (web.assessor(), {"Origin": ORIGIN}),
        (web.client(), {"Origin": ORIGIN}),
    ]
    for client, headers in attempts:
        with (
            pytest.raises(WebSocketDisconnect) as refused,
            client.websocket_connect(path, headers=headers),
        ):
            pass
        assert refused.value.code == 1008
    assert upstream.tokens == []


def test_a_websocket_finds_a_restarted_lab(web: Web, upstream: Upstream) -> None:
    browser, run_id = running_candidate(web)
    assert browser.get(f"{LAB_BASE_URL}api/status").status_code == 200
    upstream.stop()
    replacement = lab("restarted")
    try:
        runner_of(web).default = replacement
        with browser.websocket_connect(f"{WS}ws/x", headers={"Origin": ORIGIN}) as ws:
            assert ws.receive_text() == "hello from restarted"
        assert runner_of(web).called("lab") == [run_id, run_id]
    finally:
        replacement.stop()


def test_the_candidate_page_links_jupyterlab_on_the_apps_origin(web: Web) -> None:
    browser, _ = running_candidate(web)
    page = browser.get("/candidate").text
    assert 'href="/candidate/lab/lab"' in page and "JupyterLab" in page
    moved = browser.get("/candidate/tools/lab", follow_redirects=False)
    assert moved.headers["location"] == "/candidate/lab/lab"
    assert browser.get("/candidate/lab", follow_redirects=False).headers["location"] == (
        "/candidate/lab/lab"
    )
