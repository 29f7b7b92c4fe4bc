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
    """The running server. Each visitor is told apart by its token: ``address(name)`` gives
    the one for ``name``, and each hit records whose token it carried (None: no valid one)."""

    port: int
    hosts: tuple[str, ...]
    tokens: dict[str, str] = field(default_factory=dict)
    hits: list[dict[str, str | None]] = field(default_factory=list)

    def address(self, name: str) -> OracleAddress:
        token = self.tokens.setdefault(name, secrets.token_hex(16))
        return OracleAddress(self.hosts, self.port, token)

    def hits_of(self, name: str) -> list[dict[str, str | None]]:
        return [hit for hit in self.hits if hit["visitor"] == name]


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
    body = json.dumps(key).encode()
    oracle: Oracle

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib's name
            pass

        def do_GET(self) -> None:
            given = parse_qs(urlsplit(self.path).query).get("token", [""])[0]
            visitor = next(
                (n for n, t in oracle.tokens.items() if secrets.compare_digest(given, t)), None
            )
            path = urlsplit(self.path).path
            oracle.hits.append({"from": self.client_address[0], "path": path, "visitor": visitor})
            payload = body if visitor is not None else b"{}"
            self.send_response(200 if visitor is not None else 403)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

    server = ThreadingHTTPServer(("0.0.0.0", 0), Handler)
    oracle = Oracle(port=server.server_address[1], hosts=local_addresses())
    thread = threading.Thread(target=server.serve_forever, name="oracle", daemon=True)
    thread.start()
    try:
        yield oracle
    finally:
        server.shutdown()
        server.server_close()
