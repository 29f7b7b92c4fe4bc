"""`prodproven serve` behind a TLS-terminating reverse proxy (docs/operations.md): a real
server, sent what a proxy sends. With PRODPROVEN_TRUSTED_PROXIES naming the proxy, its
X-Forwarded-Proto and X-Forwarded-For are believed (cookies are Secure, sign-in throttling
counts the client, not the proxy); without it the same headers change nothing. An https
public URL makes every answer carry HSTS."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from sqlalchemy import select

from prodproven.runner.people.throttle import SignInCounterRow
from prodproven.runner.runs.store import Store
from tests.conftest import free_port
from tests.unit.websupport import csrf_of

FORWARDED = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.7"}


@contextmanager
def serving(data_dir: Path, **env: str) -> Iterator[httpx.Client]:
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "prodproven.runner.cli", "serve", "--port", str(port)],
        env={**os.environ, "PRODPROVEN_DATA_DIR": str(data_dir), **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", trust_env=False) as client:
            deadline = time.monotonic() + 60
            while True:
                try:
                    client.get("/login")
                    break
                except httpx.TransportError:
                    assert time.monotonic() < deadline, "serve did not answer within 60 s"
                    time.sleep(0.2)
            yield client
    finally:
        server.terminate()
        server.wait(timeout=30)


def failed_sign_in(client: httpx.Client) -> httpx.Response:
    """A wrong password, sent as the browser behind the proxy would: with the sign-in cookie,
    which the client keeps itself, since a Secure cookie never goes back over plain HTTP."""
    page = client.get("/login", headers=FORWARDED)
    cookie = page.headers["set-cookie"].split(";", 1)[0]
    form = {"email": "nobody@example.com", "password": "wrong", "csrf": csrf_of(page.text)}
    client.cookies.clear()
    return client.post("/login", data=form, headers={**FORWARDED, "Cookie": cookie})


def counted_addresses(data_dir: Path) -> set[str]:
    store = Store(f"sqlite:///{data_dir / 'prodproven.db'}")
    with store.session() as s:
        keys = s.scalars(select(SignInCounterRow.key)).all()
    return {k for k in keys if k.startswith("address:")}


def test_a_trusted_proxys_forwarded_headers_make_cookies_secure_and_count_the_client(
    tmp_path: Path,
) -> None:
    env = {
        "PRODPROVEN_TRUSTED_PROXIES": "127.0.0.1",
        "PRODPROVEN_PUBLIC_URL": "https://assess.example.test",
    }
    with serving(tmp_path, **env) as client:
        page = client.get("/login", headers=FORWARDED)
        assert page.headers["strict-transport-security"] == "max-age=31536000"
        assert "secure" in page.headers["set-cookie"].lower()
        assert failed_sign_in(client).status_code == 401
    assert counted_addresses(tmp_path) == {"address:203.0.113.7"}


def test_without_trusted_proxies_forwarded_headers_change_nothing(tmp_path: Path) -> None:
    with serving(tmp_path) as client:
        page = client.get("/login", headers=FORWARDED)
        assert "strict-transport-security" not in page.headers
        assert "secure" not in page.headers["set-cookie"].lower()
        assert failed_sign_in(client).status_code == 401
    assert counted_addresses(tmp_path) == {"address:127.0.0.1"}
