"""The candidate's JupyterLab on the web app's own origin: a reverse proxy under
``/candidate/lab/`` (JupyterLab's base URL, :data:`prodproven.runner.runs.lab.LAB_BASE_URL`).

Remote candidates reach only the web app, so every request and WebSocket under that prefix is
forwarded, same path and query, to their own run's lab on ``127.0.0.1:PORT`` (the runner's
port forward into the pod). Only the candidate's session cookie opens it: the proxy adds the
lab's token (``Authorization: token …``) itself, so the browser never needs it, and an
assessor or another candidate reaches no one else's lab. JupyterLab skips its XSRF and Origin
checks for token-authenticated requests, so the proxy does them: a request or WebSocket from
another origin (``Origin``, ``Sec-Fetch-Site``) is refused before anything is forwarded. The
app's ``pp_*`` cookies never go upstream, and the upstream cannot set them.

Finding the upstream is a cached lookup
(:meth:`prodproven.runner.portal.invited.Invited.lab_upstream`); when the upstream cannot be
reached the entry is dropped and the runner asked once more (it restarts a dead lab), then the
request is sent again, once.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from urllib.parse import urlsplit

import anyio
import httpx
from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse, RedirectResponse, Response, StreamingResponse
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers
from starlette.requests import HTTPConnection
from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus
from websockets.typing import Subprotocol

from prodproven.runner.errors import AccessDenied, ProdprovenError, RunStateError
from prodproven.runner.portal.core import Portal
from prodproven.runner.portal.invited import LabUpstream
from prodproven.runner.runs.lab import LAB_BASE_URL
from prodproven.runner.web.auth import CANDIDATE_COOKIE
from prodproven.runner.web.responses import page

PREFIX = LAB_BASE_URL
APP_COOKIES = "pp_"
"""The app's own cookies (sessions, sign-in): never sent upstream, never set by it."""
HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "trailers",
        "transfer-encoding",
        "upgrade",
    }
)
REQUEST_DROPPED = HOP_BY_HOP | {"host", "authorization", "cookie", "origin"}
"""The proxy sets Host and Authorization itself, filters Cookie and has checked Origin."""
RESPONSE_DROPPED = HOP_BY_HOP | {"date", "server"}
"""The app's server adds its own Date and Server."""
METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
RETRYABLE_BODY = 1 << 20
"""Request bodies up to this size (with a Content-Length) are read whole, so the request can
be sent again after the runner restarted the lab; larger ones are streamed as they come."""
TIMEOUT = httpx.Timeout(connect=10.0, read=300.0, write=300.0, pool=30.0)
LIMITS = httpx.Limits(max_connections=1000, max_keepalive_connections=200, keepalive_expiry=60.0)
"""Each new connection to a run's forward costs a ``docker exec``: keep them alive."""
WS_OPEN_TIMEOUT_S = 30.0
RECHECK_S = 2.0
"""A candidate's session and run are read from the store again at most this long after the
last time: opening JupyterLab makes dozens of requests at once, and each read costs ~1 ms."""
MAX_RECENT = 10_000

router = APIRouter(include_in_schema=False)


@asynccontextmanager
async def upstream_client() -> AsyncIterator[httpx.AsyncClient]:
    """The HTTP client the proxy shares, one per app (made in its lifespan)."""
    async with httpx.AsyncClient(
        timeout=TIMEOUT, limits=LIMITS, trust_env=False, follow_redirects=False
    ) as client:
        yield client


# who may pass ----------------------------------------------------------------------------------
def own_origins(conn: HTTPConnection) -> set[str]:
    """The origins of this app: its public URL's and the one this request addressed."""
    public = urlsplit(portal_of(conn).settings.base_url)
    scheme = "https" if conn.url.scheme in ("https", "wss") else "http"
    found = {f"{public.scheme}://{public.netloc}".lower()}
    if host := conn.headers.get("host"):
        found.add(f"{scheme}://{host}".lower())
    return found


def cross_site(conn: HTTPConnection, method: str) -> bool:
    """True for a request another site made the browser send: a foreign ``Origin``, or
    ``Sec-Fetch-Site`` other than same-origin (except following a link to a page)."""
    origin = conn.headers.get("origin")
    if origin is not None and origin.lower() not in own_origins(conn):
        return True
    site = conn.headers.get("sec-fetch-site")
    navigating = conn.headers.get("sec-fetch-mode") == "navigate" and method in ("GET", "HEAD")
    return site in ("cross-site", "same-site") and not navigating


def portal_of(conn: HTTPConnection) -> Portal:
    found: Portal = conn.app.state.portal
    return found


@dataclass(frozen=True)
class Access:
    """A candidate's lab, as last checked."""

    invitation_id: str
    upstream: LabUpstream
    checked_at: float


def _recent(conn: HTTPConnection) -> dict[str, Access]:
    """The app's recent checks, by session cookie."""
    found: dict[str, Access] | None = getattr(conn.app.state, "lab_access", None)
    if found is None:
        found = conn.app.state.lab_access = {}
    return found


async def access(conn: HTTPConnection) -> Access:
    """The candidate of this request (their session cookie) and their running run's lab,
    checked in the store at most every RECHECK_S per session. Raises AccessDenied,
    RunStateError (and ProdprovenError when the runner cannot bring the lab up)."""
    cookie = conn.cookies.get(CANDIDATE_COOKIE)
    if not cookie:
        raise AccessDenied("open the link of your invitation to reach this page")
    recent = _recent(conn)
    found = recent.get(cookie)
    if found is not None and time.monotonic() - found.checked_at < RECHECK_S:
        return found
    recent.pop(cookie, None)
    found = await run_in_threadpool(_check, portal_of(conn), cookie)
    if len(recent) >= MAX_RECENT:
        recent.clear()
    recent[cookie] = found
    return found


def _check(the_portal: Portal, cookie: str) -> Access:
    invitation_id = the_portal.accounts.candidate_session(cookie).subject
    return Access(invitation_id, the_portal.invited.lab_upstream(invitation_id), time.monotonic())


async def _relookup(conn: HTTPConnection, failed: Access) -> Access:
    """Ask the runner for the lab again after ``failed`` could not be reached."""
    cookie = conn.cookies.get(CANDIDATE_COOKIE, "")
    _recent(conn).pop(cookie, None)
    upstream = await run_in_threadpool(
        portal_of(conn).invited.lab_upstream, failed.invitation_id, failed=failed.upstream
    )
    found = Access(failed.invitation_id, upstream, time.monotonic())
    _recent(conn)[cookie] = found
    return found


def upstream_cookie(header: str | None) -> str | None:
    """The Cookie header without the app's own cookies."""
    if not header:
        return None
    kept = [
        part.strip()
        for part in header.split(";")
        if part.strip() and not part.strip().startswith(APP_COOKIES)
    ]
    return "; ".join(kept) or None


def sets_app_cookie(set_cookie: str) -> bool:
    return set_cookie.split("=", 1)[0].strip().startswith(APP_COOKIES)


def upstream_url(scheme: str, upstream: LabUpstream, conn: HTTPConnection) -> str:
    path = conn.scope.get("raw_path") or conn.scope["path"].encode()
    query = conn.scope.get("query_string", b"")
    url = f"{scheme}://127.0.0.1:{upstream.port}{path.decode('latin-1')}"
    return f"{url}?{query.decode('latin-1')}" if query else url


def request_headers(headers: Headers, upstream: LabUpstream) -> list[tuple[str, str]]:
    hop = {name.strip().lower() for name in headers.get("connection", "").split(",")}
    kept = [
        (name, value)
        for name, value in headers.items()
        if name not in REQUEST_DROPPED and name not in hop
    ]
    kept.append(("authorization", f"token {upstream.token}"))
    if cookie := upstream_cookie(headers.get("cookie")):
        kept.append(("cookie", cookie))
    return kept


def response_headers(response: httpx.Response, upstream: LabUpstream) -> list[tuple[bytes, bytes]]:
    hop = {name.strip().lower() for name in response.headers.get("connection", "").split(",")}
    origin = f"http://127.0.0.1:{upstream.port}"
    kept = []
    for raw_name, raw_value in response.headers.raw:
        name = raw_name.decode("latin-1").lower()
        value = raw_value.decode("latin-1")
        if name in RESPONSE_DROPPED or name in hop or name.startswith("access-control-"):
            continue
        if name == "set-cookie" and sets_app_cookie(value):
            continue
        if name == "location" and value.startswith(origin):
            value = value[len(origin) :] or "/"
        kept.append((name.encode("latin-1"), value.encode("latin-1")))
    return kept


# HTTP ------------------------------------------------------------------------------------------
@router.get("/candidate/lab")
def lab_home() -> Response:
    return RedirectResponse(f"{PREFIX}lab", status_code=303)


@router.api_route(PREFIX + "{path:path}", methods=METHODS)
async def proxy_http(request: Request) -> Response:
    if cross_site(request, request.method):
        return PlainTextResponse("refused: this request came from another site", 403)
    try:
        found = await access(request)
    except (AccessDenied, RunStateError):
        raise  # the app's answers: 401, 409
    except ProdprovenError as exc:
        return _unavailable(request, 503, str(exc))
    body = await _body(request)
    client, owned = _client(request)
    try:
        response, found = await _send(request, client, body, found)
    except BaseException:
        if owned:
            await client.aclose()
        raise
    if isinstance(response, Response):
        if owned:
            await client.aclose()
        return response

    async def relay() -> AsyncIterator[bytes]:
        """The upstream's body as it comes; its connection goes back to the pool (or is
        closed) however this ends, the browser gone included."""
        try:
            async for chunk in response.aiter_raw():
                yield chunk
        finally:
            with anyio.CancelScope(shield=True):
                await response.aclose()
                if owned:
                    await client.aclose()

    request.state.lab_proxied = True  # the app's security headers are not for JupyterLab
    proxied = StreamingResponse(relay(), status_code=response.status_code)
    proxied.raw_headers = response_headers(response, found.upstream)
    return proxied


async def _body(request: Request) -> bytes | AsyncIterator[bytes] | None:
    """None without a body; the whole body when small enough to send twice; else a stream."""
    length = request.headers.get("content-length")
    if length is None and "transfer-encoding" not in request.headers:
        return None
    if length is not None and length.isdigit() and int(length) <= RETRYABLE_BODY:
        return await request.body()
    return request.stream()


def _client(request: Request) -> tuple[httpx.AsyncClient, bool]:
    """The app's shared client; a client for this request only when the app runs without its
    lifespan (the caller closes it)."""
    shared: httpx.AsyncClient | None = getattr(request.app.state, "lab_client", None)
    if shared is not None and not shared.is_closed:
        return shared, False
    return httpx.AsyncClient(timeout=TIMEOUT, trust_env=False, follow_redirects=False), True


async def _send(
    request: Request,
    client: httpx.AsyncClient,
    body: bytes | AsyncIterator[bytes] | None,
    found: Access,
) -> tuple[httpx.Response | Response, Access]:
    """The upstream's response (headers read, body not yet), or the app's own answer when
    the lab does not answer."""
    for attempt in (1, 2):
        sent = client.build_request(
            request.method,
            upstream_url("http", found.upstream, request),
            headers=request_headers(request.headers, found.upstream),
            content=body,
        )
        try:
            return await client.send(sent, stream=True), found
        except (httpx.ReadTimeout, httpx.WriteTimeout, httpx.PoolTimeout):
            return _unavailable(request, 504, "JupyterLab took too long to answer."), found
        except httpx.TransportError:
            if attempt == 2:
                break
            try:
                found = await _relookup(request, found)
            except (AccessDenied, RunStateError):
                raise
            except ProdprovenError as exc:
                return _unavailable(request, 503, str(exc)), found
            if body is not None and not isinstance(body, bytes):
                break  # a streamed body is gone: the browser may try again
    return _unavailable(request, 502, "JupyterLab does not answer; try again in a moment."), found


def _unavailable(request: Request, status: int, message: str) -> Response:
    return page(request, "error.html", status_code=status, message=message, status=status)


# WebSocket -------------------------------------------------------------------------------------
@router.websocket(PREFIX + "{path:path}")
async def proxy_websocket(websocket: WebSocket) -> None:
    """Refused handshakes (another origin, no candidate session, the run not running, the lab
    not answering) are closed before they open: the browser sees HTTP 403."""
    origin = websocket.headers.get("origin")
    if origin is None or origin.lower() not in own_origins(websocket):
        await websocket.close(1008, "this WebSocket was opened by another site")
        return
    try:
        remote = await _open(websocket, await access(websocket))
    except (AccessDenied, RunStateError) as exc:
        await websocket.close(1008, str(exc)[:120])
        return
    except (OSError, TimeoutError, InvalidHandshake, ProdprovenError) as exc:
        await websocket.close(1011, f"JupyterLab does not answer: {exc}"[:120])
        return
    async with remote:
        await websocket.accept(subprotocol=remote.subprotocol)
        await _relay(websocket, remote)


async def _open(websocket: WebSocket, found: Access) -> ClientConnection:
    """A WebSocket to the lab, same path and subprotocols; after a failure the runner is asked
    for the lab again, once."""
    cookies = [(k, v) for k, v in websocket.scope["headers"] if k.lower() == b"cookie"]
    offered = [Subprotocol(p) for p in websocket.scope.get("subprotocols", [])]
    for attempt in (1, 2):
        try:
            return await connect(
                upstream_url("ws", found.upstream, websocket),
                additional_headers=request_headers(Headers(raw=cookies), found.upstream),
                subprotocols=offered or None,
                compression=None,
                proxy=None,
                max_size=None,
                ping_interval=None,
                open_timeout=WS_OPEN_TIMEOUT_S,
                user_agent_header=None,
            )
        except InvalidStatus:
            raise  # the lab answered, and refused
        except (OSError, TimeoutError, InvalidHandshake):
            if attempt == 2:
                raise
            found = await _relookup(websocket, found)
    raise AssertionError("unreachable")


async def _relay(websocket: WebSocket, remote: ClientConnection) -> None:
    """Copy messages both ways until either side closes; the other side gets its close
    code."""

    async def from_browser() -> None:
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                await remote.close(_sendable(message.get("code")), message.get("reason") or "")
                return
            if message.get("text") is not None:
                await remote.send(message["text"])
            elif message.get("bytes") is not None:
                await remote.send(message["bytes"])

    async def from_lab() -> None:
        try:
            async for data in remote:
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
        group.start_soon(run, from_lab)


def _sendable(code: int | None) -> int:
    """A close code one may send: none given (1005) becomes 1000, reserved ones (1006, a
    dropped connection) 1011."""
    if code is None or code == 1005:
        return 1000
    if 1000 <= code <= 1003 or 1007 <= code <= 1014 or 3000 <= code <= 4999:
        return code
    return 1011
