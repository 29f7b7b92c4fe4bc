"""What every HTTP request and answer of the app passes through, outside everything else:

- a request body over its cap is refused with 413 (its ``Content-Length`` before anything is
  read; a body without one is counted while it is received, and the app's answer to the cut
  body is replaced);
- every answer carries the security headers (an error page included), except those the
  proxy relays from a run's JupyterLab and tools (runner/web/upstream.py);
- an error nobody expected becomes a 500 page (or JSON under /api/) with a reference, logged
  with its traceback under that reference; the answer never holds the traceback.

A pure ASGI middleware: it sees the bytes as they come, without reading the body itself.
"""

from __future__ import annotations

import json
import logging
import secrets
from collections.abc import Mapping
from dataclasses import dataclass

from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger(__name__)

MAX_BODY = 1 << 20
"""The largest request body (1 MiB): forms, notes and API calls are far smaller."""
MAX_LAB_BODY = 64 << 20
"""The largest request body to JupyterLab and the run's tools through the proxy (64 MiB):
notebooks with their outputs, uploads (which JupyterLab sends in chunks of 1 MiB), models and
artifacts logged from the browser."""
LARGE_BODIES = ("/candidate/lab/", "/candidate/tools/")


def body_limit(path: str) -> int:
    return MAX_LAB_BODY if path.startswith(LARGE_BODIES) else MAX_BODY


@dataclass
class _Exchange:
    limit: int
    received: int = 0
    over: bool = False
    started: bool = False


class Guard:
    """Body caps, security headers and the last-resort error answer (see the module)."""

    def __init__(self, app: ASGIApp, headers: Mapping[str, str]) -> None:
        self.app = app
        self.headers = [(k.lower().encode(), v.encode()) for k, v in headers.items()]
        self.fresh = [*self.headers, (b"cache-control", b"no-store")]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        state: dict[str, object] = scope.setdefault("state", {})
        exchange = _Exchange(body_limit(scope["path"]))
        if _declared_length(scope) > exchange.limit:
            await self._answer(scope, send, 413, _too_large(exchange.limit))
            return

        async def counted() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                exchange.received += len(message.get("body", b""))
                if exchange.received > exchange.limit:
                    exchange.over = True
                    return {"type": "http.disconnect"}  # the app stops reading here
            return message

        async def guarded(message: Message) -> None:
            if exchange.over:
                return  # the app's answer to a body it never got whole
            if message["type"] == "http.response.start":
                exchange.started = True
                if not state.get("proxied"):
                    static = scope["path"].startswith("/static/")
                    message["headers"] = self._with_headers(message.get("headers", []), static)
            await send(message)

        try:
            await self.app(scope, counted, guarded)
        except Exception:
            if exchange.started:
                raise
            if not exchange.over:
                reference = secrets.token_hex(4)
                log.exception(
                    "%s %s failed (reference %s)", scope["method"], scope["path"], reference
                )
                message = f"something went wrong on our side (reference {reference})"
                await self._answer(scope, send, 500, message)
                return
        if exchange.over and not exchange.started:
            await self._answer(scope, send, 413, _too_large(exchange.limit))

    def _with_headers(
        self, raw: list[tuple[bytes, bytes]], static: bool = False
    ) -> list[tuple[bytes, bytes]]:
        """``raw`` with the security headers it lacks, and ``Cache-Control: no-store`` unless
        it is a static file's."""
        present = {name.lower() for name, _ in raw}
        added = self.headers if static else self.fresh
        return [*raw, *((k, v) for k, v in added if k not in present)]

    async def _answer(self, scope: Scope, send: Send, status: int, message: str) -> None:
        """A small answer of the app's own: JSON under /api/, else a plain page."""
        if scope["path"].startswith("/api/"):
            body, kind = json.dumps({"detail": message}).encode(), b"application/json"
        else:
            body, kind = _page(status, message).encode(), b"text/html; charset=utf-8"
        headers = [(b"content-type", kind), (b"content-length", str(len(body)).encode())]
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": self._with_headers(headers),
            }
        )
        await send({"type": "http.response.body", "body": body})


def _declared_length(scope: Scope) -> int:
    for name, value in scope["headers"]:
        if name == b"content-length":
            return int(value) if value.isdigit() else 0
    return 0


def _too_large(limit: int) -> str:
    return f"the request body is over the limit of {limit // 1024} KiB"


def _page(status: int, message: str) -> str:
    return (
        f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>{status} · "
        f"prodproven</title></head><body><h1>That did not work</h1><p>{message}</p></body></html>"
    )
