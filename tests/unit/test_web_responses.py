"""Cookies the app sets (runner/web/responses.py): ``HttpOnly`` always, ``Secure`` whenever
the app is reached over TLS, the sign-in form's ``pp_login`` included."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from fastapi.testclient import TestClient

from prodproven.runner.portal.access import Actor
from tests.unit.websupport import PASSWORD, csrf_of, make_web


class Headers(Protocol):
    def get_list(self, key: str) -> list[str]: ...


class Answer(Protocol):
    @property
    def headers(self) -> Headers: ...


def cookie(response: Answer, name: str) -> str:
    """The ``Set-Cookie`` of ``name``, lower case."""
    [found] = [c for c in response.headers.get_list("set-cookie") if c.startswith(f"{name}=")]
    return found.lower()


def test_the_login_and_session_cookies_are_secure_when_the_public_url_is_https(
    tmp_path: Path,
) -> None:
    web = make_web(tmp_path, {"PRODPROVEN_PUBLIC_URL": "https://hire.example"})
    web.portal.accounts.add_assessor("ada@acme.test", "Ada", "acme", PASSWORD)
    client = web.client()
    login = client.get("/login")
    assert "secure" in cookie(login, "pp_login") and "httponly" in cookie(login, "pp_login")
    csrf = csrf_of(login.text)
    form = {"email": "ada@acme.test", "password": PASSWORD, "csrf": csrf}
    # a browser sends a Secure cookie only over https: this one talks http behind the proxy
    client.cookies.clear()
    signed_in = client.post(
        "/login", data=form, headers={"Cookie": f"pp_login={csrf}"}, follow_redirects=False
    )
    assert "secure" in cookie(signed_in, "pp_session")


def test_cookies_are_secure_on_a_request_that_came_over_https(tmp_path: Path) -> None:
    web = make_web(tmp_path)
    _, link = web.portal.invitations.invite(
        Actor("lead@acme.test", "acme"), "deploy-model", "Cleo", "cleo@x.test"
    )
    path = link.removeprefix(web.settings.base_url)
    over_tls = TestClient(web.client().app, base_url="https://127.0.0.1:8443")
    page = over_tls.get(path)
    assert "secure" in cookie(page, "pp_login")
    opened = over_tls.post(path, data={"csrf": csrf_of(page.text)}, follow_redirects=False)
    assert "secure" in cookie(opened, "pp_candidate")
    assert "secure" not in cookie(web.client().get("/login"), "pp_login")  # plain http
