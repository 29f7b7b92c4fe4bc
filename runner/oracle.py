"""The validator's answer server: a stand-in for an answer key somewhere on the internet.

``challenge validate`` serves the hidden answers on every address of this machine while the
network cheat runs. A sandbox that lets the cheat reach it is leaking, and every request that
arrives is recorded as evidence.
"""

from __future__ import annotations

import json
import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass(frozen=True)
class OracleAddress:
    """Where the answer server listens, as a cheat inside a container would try to reach it."""

    hosts: tuple[str, ...]
    port: int
    token: str


@dataclass
class Oracle:
    address: OracleAddress
    key: dict[str, Any]
    hits: list[dict[str, str]] = field(default_factory=list)


def local_addresses(fib_trie: Path = Path("/proc/net/fib_trie")) -> tuple[str, ...]:
    """This machine's IPv4 addresses other than loopback (the docker bridge among them)."""
    try:
        lines = fib_trie.read_text().splitlines()
    except OSError:
        return ()
    found: set[str] = set()
    previous = ""
    for line in lines:
        text = line.strip()
        if text.startswith("|--"):
            previous = text[3:].strip()
        elif text == "/32 host LOCAL" and previous and not previous.startswith("127."):
            found.add(previous)
    return tuple(sorted(found))


@contextmanager
def serving(key: dict[str, Any]) -> Iterator[Oracle]:
    """Serve ``key`` as JSON at ``/key?token=...`` on all addresses while the context lasts."""
    token = secrets.token_hex(16)
    body = json.dumps(key).encode()
    hits: list[dict[str, str]] = []

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib's name
            pass

        def do_GET(self) -> None:
            hits.append({"from": self.client_address[0], "path": urlsplit(self.path).path})
            given = parse_qs(urlsplit(self.path).query).get("token", [""])[0]
            ok = secrets.compare_digest(given, token)
            payload = body if ok else b"{}"
            self.send_response(200 if ok else 403)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

    server = ThreadingHTTPServer(("0.0.0.0", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, name="oracle", daemon=True)
    thread.start()
    try:
        address = OracleAddress(local_addresses(), server.server_address[1], token)
        yield Oracle(address, key, hits)
    finally:
        server.shutdown()
        server.server_close()
