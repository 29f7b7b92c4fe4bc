"""WebSockets through the web app's proxy core (:mod:`prodproven.runner.web.upstream`): the
handshake is checked like a request (the app's own ``Origin`` required, then the target's
session) and refused before it opens; then frames are copied both ways, text and binary, with
the subprotocol the upstream picks, and each side's close code passed to the other.

A caller may have the frames observed (the lab proxy records terminals and cell executions):
:data:`Observe` gives an observer per WebSocket, called with each frame as it is relayed;
an observer that raises is dropped (logged), the relay goes on."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Protocol

import anyio
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers
from starlette.requests import HTTPConnection
from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus
from websockets.typing import Subprotocol

from prodproven.runner.errors import ProdprovenError
from prodproven.runner.web.upstream import Target, Upstreams, own_origins, request_headers
from prodproven.sandbox.errors import SandboxError

WS_OPEN_TIMEOUT_S = 30.0
HANDSHAKE_READ = (b"cookie", b"host", b"origin", b"authorization")
"""The handshake's headers that ``request_headers`` reads (it drops what may not go up)."""

log = logging.getLogger(__name__)


class FrameObserver(Protocol):
    """Sees each frame relayed over one WebSocket (on the event loop: it must be quick)."""

    def frame(self, from_browser: bool, data: str | bytes) -> None: ...

    def close(self) -> None: ...


Observe = Callable[[HTTPConnection, Target, str], FrameObserver | None]
"""The observer of a WebSocket to ``target``'s upstream path, or None (blocking: called
once per WebSocket when it opens)."""


async def proxy_websocket(
    websocket: WebSocket,
    upstreams: Upstreams,
    observe: Observe | None = None,
    *,
    guarded: bool = True,
) -> None:
    """Relay a WebSocket to its target, its frames seen by ``observe``'s observer. Refused
    handshakes (another origin when ``guarded``, no session, the run not running, the
    upstream not answering, a request the target does not allow) are closed before they
    open: the browser sees HTTP 403. Headers go up as ``request_headers`` says."""
    origin = websocket.headers.get("origin")
    if guarded and (origin is None or origin.lower() not in own_origins(websocket)):
        await websocket.close(1008, "this WebSocket was opened by another site")
        return
    try:
        target = await upstreams.find(websocket)
        path = target.upstream_path(websocket)
        if target.allows is not None and not target.allows("GET", path):
            await websocket.close(1008, target.refusal[:120])
            return
        remote = await _open(websocket, upstreams, target, guarded)
    except (OSError, TimeoutError, InvalidHandshake, SandboxError) as exc:
        await websocket.close(1011, f"{upstreams.what} does not answer: {exc}"[:120])
        return
    except ProdprovenError as exc:
        await websocket.close(1008, str(exc)[:120])
        return
    async with remote:
        await websocket.accept(subprotocol=remote.subprotocol)
        watch = _Watch(await _observer(observe, websocket, target, path))
        try:
            await _relay(websocket, remote, watch)
        finally:
            watch.close()


async def _observer(
    observe: Observe | None, websocket: WebSocket, target: Target, path: str
) -> FrameObserver | None:
    """``observe``'s observer, made off the event loop; None when it fails (logged)."""
    if observe is None:
        return None
    try:
        return await run_in_threadpool(observe, websocket, target, path)
    except Exception:  # a recording never stops what it records
        log.exception("observing the WebSocket %s failed; it is relayed unobserved", path)
        return None


class _Watch:
    """An observer, or none; one that raises is logged and dropped."""

    def __init__(self, observer: FrameObserver | None) -> None:
        self._observer = observer

    def frame(self, from_browser: bool, data: str | bytes) -> None:
        if self._observer is None:
            return
        try:
            self._observer.frame(from_browser, data)
        except Exception:  # a recording never breaks what it records
            log.exception("observing a WebSocket frame failed; observing stops")
            self.close()

    def close(self) -> None:
        observer, self._observer = self._observer, None
        if observer is not None:
            try:
                observer.close()
            except Exception:
                log.exception("closing a WebSocket's observer failed")


async def _open(
    websocket: WebSocket, upstreams: Upstreams, target: Target, guarded: bool
) -> ClientConnection:
    """A WebSocket to the target, same path and subprotocols; after a failure the target is
    looked up again, once."""
    handshake = websocket.scope["headers"]
    read = Headers(raw=[(k, v) for k, v in handshake if k.lower() in HANDSHAKE_READ])
    offered = [Subprotocol(p) for p in websocket.scope.get("subprotocols", [])]
    for attempt in (1, 2):
        try:
            return await connect(
                target.url("ws", websocket),
                additional_headers=request_headers(read, target, guarded=guarded),
                subprotocols=offered or None,
                compression=None,
                proxy=None,
                max_size=None,
                ping_interval=None,
                open_timeout=WS_OPEN_TIMEOUT_S,
                user_agent_header=None,
            )
        except InvalidStatus:
            raise  # the upstream answered, and refused
        except (OSError, TimeoutError, InvalidHandshake):
            if attempt == 2:
                raise
            target = await upstreams.again(websocket, target)
    raise AssertionError("unreachable")


async def _relay(websocket: WebSocket, remote: ClientConnection, watch: _Watch) -> None:
    """Copy messages both ways, each seen by ``watch`` as it passes, until either side
    closes; the other side gets its close code."""

    async def from_browser() -> None:
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                await remote.close(_sendable(message.get("code")), message.get("reason") or "")
                return
            data = message.get("text")
            if data is None:
                data = message.get("bytes")
            if data is not None:
                watch.frame(True, data)
                await remote.send(data)

    async def from_upstream() -> None:
        try:
            async for data in remote:
                watch.frame(False, data)
                if isinstance(data, str):
                    await websocket.send_text(data)
                else:
                    await websocket.send_bytes(data)
        except ConnectionClosed:
            pass
        if websocket.application_state == WebSocketState.CONNECTED:
            code = remote.close_code
            await websocket.close(
                _sendable(1006 if code is None else code), remote.close_reason or ""
            )

    async with anyio.create_task_group() as group:

        async def run(side: Callable[[], Awaitable[None]]) -> None:
            try:
                await side()
            except (ConnectionClosed, WebSocketDisconnect, OSError, RuntimeError):
                pass  # the other side is gone: closing ends the relay
            finally:
                group.cancel_scope.cancel()

        group.start_soon(run, from_browser)
        group.start_soon(run, from_upstream)


def _sendable(code: int | None) -> int:
    """A close code one may send: none given (1005) becomes 1000, reserved ones (1006, a
    dropped connection) 1011."""
    if code is None or code == 1005:
        return 1000
    if 1000 <= code <= 1003 or 1007 <= code <= 1014 or 3000 <= code <= 4999:
        return code
    return 1011
