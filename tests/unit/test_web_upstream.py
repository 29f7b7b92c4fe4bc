"""The proxy core (runner/web/upstream.py) on its own: where a request goes, how a Location
comes back, what gets sandboxed, the banner, the cookies, the headers sent up guarded or not.
The relays themselves are tested through the lab (test_web_proxy.py), the tools
(test_web_tools.py) and ``prodproven lab``'s relay (test_lab_relay.py)."""

from __future__ import annotations

import httpx
import pytest
from starlette.datastructures import Headers
from starlette.requests import HTTPConnection

from prodproven.runner.web.upstream import (
    SANDBOX,
    Target,
    as_upstreams,
    request_headers,
    response_headers,
    upstream_cookie,
    with_banner,
)

TOOL = Target(port=4242, mount="/candidate/tools/mlflow/", sandbox=True, trusted=("/", "/s/*"))
LAB = Target(port=4242, mount="/candidate/lab/", base="/candidate/lab/")


def connection(raw_path: bytes, path: str, query: bytes = b"") -> HTTPConnection:
    scope = {"type": "http", "raw_path": raw_path, "path": path, "query_string": query}
    return HTTPConnection(scope)


def test_the_mount_is_replaced_by_the_base_keeping_the_encoding_and_query() -> None:
    conn = connection(b"/candidate/tools/mlflow/a%20b/c", "/candidate/tools/mlflow/a b/c", b"x=1")
    assert TOOL.url("http", conn) == "http://127.0.0.1:4242/a%20b/c?x=1"
    lab = connection(b"/candidate/lab/api/x", "/candidate/lab/api/x")
    assert LAB.url("ws", lab) == "ws://127.0.0.1:4242/candidate/lab/api/x"
    root = connection(b"/candidate/tools/mlflow/", "/candidate/tools/mlflow/")
    assert TOOL.upstream_path(root) == "/"


@pytest.mark.parametrize(
    ("location", "expected"),
    [
        ("http://127.0.0.1:4242/models?x=1", "/candidate/tools/mlflow/models?x=1"),
        ("http://localhost:4242", "/candidate/tools/mlflow/"),
        ("/static-files/x.js", "/candidate/tools/mlflow/static-files/x.js"),
        ("models", "models"),  # relative: the browser resolves it under the prefix
        ("//elsewhere.test/x", "//elsewhere.test/x"),
        ("https://elsewhere.test/x", "https://elsewhere.test/x"),
        ("http://127.0.0.1:9999/x", "http://127.0.0.1:9999/x"),  # another port: not ours
    ],
)
def test_a_tools_location_is_moved_under_its_prefix(location: str, expected: str) -> None:
    assert TOOL.location(location) == expected


def test_a_labs_location_only_loses_its_loopback_origin() -> None:
    assert LAB.location("http://127.0.0.1:4242/candidate/lab/lab") == "/candidate/lab/lab"
    assert LAB.location("/candidate/lab/tree") == "/candidate/lab/tree"
    assert LAB.location("/elsewhere") == "/elsewhere"


def test_everything_but_the_trusted_paths_of_a_sandboxed_target_is_sandboxed() -> None:
    assert not TOOL.sandboxes("/")
    assert not TOOL.sandboxes("/s/js/main.js")
    assert TOOL.sandboxes("/get-artifact")
    assert TOOL.sandboxes("/s")
    assert not LAB.sandboxes("/files/page.html")  # the lab is not sandboxed at all


def test_a_sandboxed_answer_gets_the_policy_and_nosniff_whatever_it_said() -> None:
    answer = httpx.Response(
        200,
        headers=[
            ("content-type", "text/html"),
            ("x-content-type-options", "whatever"),
            ("content-security-policy", "default-src *"),
            ("location", "/x"),
        ],
    )
    headers = response_headers(answer, TOOL, "/artifact.html")
    assert (b"content-security-policy", SANDBOX.encode()) in headers
    assert (b"content-security-policy", b"default-src *") in headers  # both are enforced
    assert [v for k, v in headers if k == b"x-content-type-options"] == [b"nosniff"]
    assert (b"location", b"/candidate/tools/mlflow/x") in headers
    trusted = response_headers(answer, TOOL, "/")
    assert (b"content-security-policy", SANDBOX.encode()) not in trusted


def test_the_banner_goes_before_the_last_closing_body_tag() -> None:
    banner = b"<script src='/b.js'></script>"
    page = b"<body><pre>&lt;/body&gt;</pre></BODY></html>"
    assert (
        with_banner(page, banner) == b"<body><pre>&lt;/body&gt;</pre>" + banner + b"</BODY></html>"
    )
    assert with_banner(b"<p>no body tag</p>", banner) == b"<p>no body tag</p>"


def test_the_apps_cookies_never_go_upstream() -> None:
    assert upstream_cookie("pp_session=a; _xsrf=b;pp_candidate=c; x=1") == "_xsrf=b; x=1"
    assert upstream_cookie("pp_session=a") is None
    assert upstream_cookie(None) is None


BROWSER = Headers(
    {
        "host": "127.0.0.1:9000",
        "origin": "http://127.0.0.1:9000",
        "referer": "http://127.0.0.1:9000/candidate/lab/lab",
        "authorization": "Bearer app-token",
        "cookie": "pp_session=a; _xsrf=b",
        "accept": "*/*",
    }
)


def test_a_guarded_target_gets_no_origin_and_its_own_authorization_only() -> None:
    sent = dict(request_headers(BROWSER, Target(port=4242, mount="/m/", authorization="token t")))
    assert sent == {
        "referer": "http://127.0.0.1:9000/candidate/lab/lab",
        "accept": "*/*",
        "authorization": "token t",
        "cookie": "_xsrf=b",
    }


def test_unguarded_the_browsers_token_and_origin_go_up_as_if_sent_upstream() -> None:
    sent = dict(request_headers(BROWSER, LAB, guarded=False))
    assert sent == {
        "origin": "http://127.0.0.1:4242",
        "referer": "http://127.0.0.1:4242/candidate/lab/lab",
        "authorization": "Bearer app-token",
        "accept": "*/*",
        "cookie": "_xsrf=b",
    }


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("origin", "http://127.0.0.1:9000", "http://127.0.0.1:4242"),
        ("origin", "HTTP://127.0.0.1:9000", "http://127.0.0.1:4242"),
        ("origin", "http://127.0.0.1:9001", "http://127.0.0.1:9001"),  # another port
        ("origin", "https://evil.test", "https://evil.test"),
        ("origin", "null", "null"),
        ("referer", "http://127.0.0.1:9000/a?b", "http://127.0.0.1:4242/a?b"),
        ("referer", "http://127.0.0.1:9000.evil.test/a", "http://127.0.0.1:9000.evil.test/a"),
        ("accept", "http://127.0.0.1:9000", "http://127.0.0.1:9000"),
    ],
)
def test_only_an_origin_or_referer_naming_the_relay_is_made_the_upstreams(
    name: str, value: str, expected: str
) -> None:
    assert as_upstreams(name, value, "http://127.0.0.1:9000", 4242) == expected
