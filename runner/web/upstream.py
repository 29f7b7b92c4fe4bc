"""The reverse proxy the web app puts in front of what runs in a run's pod: the candidate's
JupyterLab (:mod:`prodproven.runner.web.proxy`), the run's services and ports, and a graded
run's restored services for assessors (:mod:`prodproven.runner.web.tools`).

Each of them is a set of routes under one prefix of the app (its *mount*), and each request is
sent, path and query kept, to a :class:`Target` on the server's ``127.0.0.1:PORT`` (the
runner's port forward into the pod), with the mount replaced by the target's *base*
(JupyterLab keeps its prefix as its base URL, a tool is served from ``/``). What is shared:

- another site's requests are refused before anything is forwarded (``Origin``,
  ``Sec-Fetch-Site``; a WebSocket needs the app's own ``Origin``);
- the app's ``pp_*`` cookies never go upstream, and the upstream cannot set them; hop-by-hop
  and CORS headers are dropped, ``Location`` is turned back into the app's paths;
- bodies stream both ways (a small request body is read whole, so that it can be sent again);
- when the target cannot be reached it is looked up again, once (the runner restarts a dead
  lab), and the request sent again, once;
- a target may sandbox what it answers (:attr:`Target.sandbox`, for candidate code) and add a
  script to its pages (:attr:`Target.banner`).

Who may reach which target is each caller's :class:`Upstreams`. WebSockets:
:mod:`prodproven.runner.web.upstream_ws`.

A caller may also relay without guarding (``guarded=False``, ``prodproven lab``'s relay,
:mod:`prodproven.runner.web.lab_relay`): for an upstream that authenticates and checks requests
itself, nothing is refused, the browser's ``Authorization`` goes upstream, and ``Origin`` and
``Referer`` naming the relay's own origin are made to name the upstream's, so that the
upstream's own checks (Origin and Referer against Host) judge each request as if the browser
had addressed the upstream directly.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from fnmatch import fnmatchcase
from http.cookiejar import CookieJar, DefaultCookiePolicy
from typing import Protocol
from urllib.parse import quote, urlsplit

import anyio
import httpx
from fastapi import Request
from fastapi.responses import PlainTextResponse, Response, StreamingResponse
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers
from starlette.requests import HTTPConnection

from prodproven.runner.errors import ProdprovenError
from prodproven.runner.portal.core import Portal
from prodproven.runner.web.responses import page
from prodproven.sandbox.errors import SandboxError

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
SANDBOX = "sandbox allow-scripts allow-forms allow-popups"
"""The policy of candidate code's answers: a page of theirs runs in an origin of its own, never
the app's (no ``allow-same-origin``), so it cannot read or act on anyone's session."""
METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
RETRYABLE_BODY = 1 << 20
"""Request bodies up to this size (with a Content-Length) are read whole, so the request can
be sent again after the runner restarted the upstream; larger ones are streamed as they come."""
MAX_PAGE = 8 << 20
"""A page that gets a banner is read whole up to this size; a larger one is passed on as is."""
TIMEOUT = httpx.Timeout(connect=10.0, read=300.0, write=300.0, pool=30.0)
LIMITS = httpx.Limits(max_connections=1000, max_keepalive_connections=200, keepalive_expiry=60.0)
"""Each new connection to a run's forward costs a ``docker exec``: keep them alive."""
RECHECK_S = 2.0
"""Who may reach a target is read from the store again at most this long after the last time:
opening JupyterLab or MLflow makes dozens of requests at once, and each read costs ~1 ms."""
MAX_RECENT = 10_000


@dataclass(frozen=True)
class Target:
    """Where a request under the app's ``mount`` goes: ``127.0.0.1:port``, with ``mount``
    replaced by ``base`` (both end with ``/``).

    ``authorization`` is sent upstream in place of the browser's. ``sandbox`` puts
    :data:`SANDBOX` and ``nosniff`` on every answer except those of the upstream paths
    matching a pattern of ``trusted`` (shell-style, ``*`` crossing ``/``). ``banner`` is put
    before ``</body>`` of the upstream's HTML pages. ``allows(method, path)`` says which
    requests may pass; the others get 405 with ``refusal``.
    """

    port: int
    mount: str
    base: str = "/"
    authorization: str | None = None
    sandbox: bool = False
    trusted: tuple[str, ...] = ()
    banner: bytes = b""
    allows: Callable[[str, str], bool] | None = None
    refusal: str = ""

    def sandboxes(self, path: str) -> bool:
        """Whether the answer to upstream ``path`` gets the sandbox headers."""
        return self.sandbox and not any(fnmatchcase(path, p) for p in self.trusted)

    def upstream_path(self, conn: HTTPConnection) -> str:
        """The upstream's path (still percent-encoded) for the app's path of ``conn``."""
        path: str = conn.scope["path"]
        raw = (conn.scope.get("raw_path") or path.encode()).decode("latin-1")
        if raw.startswith(self.mount):
            return self.base + raw[len(self.mount) :]
        return self.base + quote(path[len(self.mount) :])

    def url(self, scheme: str, conn: HTTPConnection) -> str:
        query = conn.scope.get("query_string", b"")
        url = f"{scheme}://127.0.0.1:{self.port}{self.upstream_path(conn)}"
        return f"{url}?{query.decode('latin-1')}" if query else url

    def location(self, value: str) -> str:
        """An upstream's ``Location`` as the browser must follow it: its own loopback origin
        dropped, and a path under ``base`` moved under ``mount``."""
        for host in ("127.0.0.1", "localhost"):
            origin = f"http://{host}:{self.port}"
            if value.startswith(origin):
                value = value[len(origin) :] or "/"
        if value.startswith(self.base) and not value.startswith("//"):
            return self.mount + value[len(self.base) :]
        return value


class Upstreams(Protocol):
    """Who may reach what: the target of a request, checked for its session."""

    what: str
    """What the upstream is, for messages ("JupyterLab")."""

    async def find(self, conn: HTTPConnection) -> Target:
        """The target of ``conn``. Raises AccessDenied, RunStateError, and other
        ProdprovenErrors (a SandboxError when the runner cannot bring the upstream up)."""
        ...

    async def again(self, conn: HTTPConnection, failed: Target) -> Target:
        """The target of ``conn`` after ``failed`` could not be reached. Raises like find."""
        ...


def no_cookies() -> CookieJar:
    """The proxy's clients' cookie jar, which keeps nothing: an upstream's cookies are for the
    browser alone; one kept would go up with any later request that has no Cookie header of
    its own (someone else's, or one without the lab's token)."""
    return CookieJar(DefaultCookiePolicy(allowed_domains=[]))


@asynccontextmanager
async def upstream_client() -> AsyncIterator[httpx.AsyncClient]:
    """The HTTP client the proxy shares, one per app (made in its lifespan)."""
    async with httpx.AsyncClient(
        timeout=TIMEOUT,
        limits=LIMITS,
        trust_env=False,
        follow_redirects=False,
        cookies=no_cookies(),
    ) as client:
        yield client


def portal_of(conn: HTTPConnection) -> Portal:
    found: Portal = conn.app.state.portal
    return found


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


@dataclass(frozen=True)
class _Checked:
    target: Target
    at: float


def _recent(conn: HTTPConnection) -> dict[str, _Checked]:
    """The app's recent checks, by key (a session and what it opens)."""
    found: dict[str, _Checked] | None = getattr(conn.app.state, "proxy_checked", None)
    if found is None:
        found = conn.app.state.proxy_checked = {}
    return found


async def remembered(
    conn: HTTPConnection, key: str, check: Callable[[], Target], *, again: bool = False
) -> Target:
    """``check()`` (blocking, run off the event loop), remembered under ``key`` for
    RECHECK_S; ``again`` forgets what was remembered first. Raises what ``check`` raises."""
    recent = _recent(conn)
    found = None if again else recent.get(key)
    if found is not None and time.monotonic() - found.at < RECHECK_S:
        return found.target
    recent.pop(key, None)
    target = await run_in_threadpool(check)
    if len(recent) >= MAX_RECENT:
        recent.clear()
    recent[key] = _Checked(target, time.monotonic())
    return target


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


def request_headers(
    headers: Headers, target: Target, *, guarded: bool = True
) -> list[tuple[str, str]]:
    """The browser's headers as sent to ``target``: see the module (``guarded`` or not)."""
    hop = {name.strip().lower() for name in headers.get("connection", "").split(",")}
    dropped = REQUEST_DROPPED if guarded else REQUEST_DROPPED - {"authorization", "origin"}
    own = f"http://{headers.get('host', '')}".lower()
    kept = [
        (name, value if guarded else as_upstreams(name, value, own, target.port))
        for name, value in headers.items()
        if name not in dropped and name not in hop
    ]
    if target.authorization is not None:
        kept.append(("authorization", target.authorization))
    if cookie := upstream_cookie(headers.get("cookie")):
        kept.append(("cookie", cookie))
    return kept


def as_upstreams(name: str, value: str, own: str, port: int) -> str:
    """Header ``value``, an ``Origin`` or ``Referer`` naming origin ``own``, made to name the
    upstream's (``http://127.0.0.1:PORT``); any other value as it is."""
    upstream = f"http://127.0.0.1:{port}"
    if name == "origin" and value.lower() == own:
        return upstream
    if name == "referer" and value.lower().startswith(own + "/"):
        return upstream + value[len(own) :]
    return value


def response_headers(
    response: httpx.Response, target: Target, path: str, *, decoded: bool = False
) -> list[tuple[bytes, bytes]]:
    """The upstream's headers as the browser gets them, for upstream ``path``; ``decoded``
    when the body is sent decoded (without its Content-Encoding and length)."""
    hop = {name.strip().lower() for name in response.headers.get("connection", "").split(",")}
    dropped = RESPONSE_DROPPED | ({"content-encoding", "content-length"} if decoded else set())
    kept = []
    for raw_name, raw_value in response.headers.raw:
        name = raw_name.decode("latin-1").lower()
        value = raw_value.decode("latin-1")
        if name in dropped or name in hop or name.startswith("access-control-"):
            continue
        if name == "set-cookie" and sets_app_cookie(value):
            continue
        if name == "location":
            value = target.location(value)
        kept.append((name.encode("latin-1"), value.encode("latin-1")))
    if target.sandboxes(path):
        kept = [(k, v) for k, v in kept if k != b"x-content-type-options"]
        kept.append((b"content-security-policy", SANDBOX.encode()))
        kept.append((b"x-content-type-options", b"nosniff"))
    return kept


def with_banner(page: bytes, banner: bytes) -> bytes:
    """``page`` with ``banner`` just before its last ``</body>`` (unchanged without one)."""
    at = page.lower().rfind(b"</body>")
    return page if at < 0 else page[:at] + banner + page[at:]


def passed_on(exc: ProdprovenError) -> bool:
    """Whether the app answers ``exc`` itself (401, 404, 409, ...): all but the sandbox's
    failures to bring the upstream up, which are a 503."""
    return not isinstance(exc, SandboxError)


def unavailable(request: Request, status: int, message: str) -> Response:
    """The app's error page; plain text from an app without pages (``prodproven lab``'s
    relay)."""
    if getattr(request.app.state, "templates", None) is None:
        return PlainTextResponse(message, status)
    return page(request, "error.html", status_code=status, message=message, status=status)


# HTTP ------------------------------------------------------------------------------------------
async def proxy_http(request: Request, upstreams: Upstreams, *, guarded: bool = True) -> Response:
    """Relay ``request`` to its target (see the module; other sites' requests refused when
    ``guarded``). Raises the ProdprovenErrors of ``upstreams`` that the app answers itself."""
    if guarded and cross_site(request, request.method):
        return PlainTextResponse("refused: this request came from another site", 403)
    try:
        target = await upstreams.find(request)
    except ProdprovenError as exc:
        if passed_on(exc):
            raise
        return unavailable(request, 503, str(exc))
    path = target.upstream_path(request)
    if target.allows is not None and not target.allows(request.method, path):
        return PlainTextResponse(f"{request.method} {path}: {target.refusal}", 405)
    body = await _body(request)
    client, owned = _client(request)
    try:
        response, target = await _send(request, upstreams, client, body, target, guarded)
    except BaseException:
        if owned:
            await client.aclose()
        raise
    if isinstance(response, Response):
        if owned:
            await client.aclose()
        return response

    async def close() -> None:
        """The upstream's connection goes back to the pool (or is closed) however the
        answer ends, the browser gone included."""
        with anyio.CancelScope(shield=True):
            await response.aclose()
            if owned:
                await client.aclose()

    request.state.proxied = True  # the app's security headers are not the upstream's
    if target.banner and response.headers.get("content-type", "").startswith("text/html"):
        return await _with_banner(response, target, path, close)

    async def relay() -> AsyncIterator[bytes]:
        try:
            async for chunk in response.aiter_raw():
                yield chunk
        finally:
            await close()

    proxied = StreamingResponse(relay(), status_code=response.status_code)
    proxied.raw_headers = response_headers(response, target, path)
    return proxied


async def _with_banner(
    response: httpx.Response, target: Target, path: str, close: Callable[[], Awaitable[None]]
) -> Response:
    """An HTML page decoded and read whole (up to MAX_PAGE) with the target's banner; a
    larger one relayed decoded, as it is."""
    chunks = response.aiter_bytes()
    read: list[bytes] = []
    size = 0
    try:
        async for chunk in chunks:
            read.append(chunk)
            size += len(chunk)
            if size > MAX_PAGE:
                break
        else:
            await close()
            body = with_banner(b"".join(read), target.banner)
            whole = Response(body, status_code=response.status_code)
            headers = response_headers(response, target, path, decoded=True)
            whole.raw_headers = [*headers, (b"content-length", str(len(body)).encode())]
            return whole
    except BaseException:
        await close()
        raise

    async def rest() -> AsyncIterator[bytes]:
        try:
            for chunk in read:
                yield chunk
            async for chunk in chunks:
                yield chunk
        finally:
            await close()

    relayed = StreamingResponse(rest(), status_code=response.status_code)
    relayed.raw_headers = response_headers(response, target, path, decoded=True)
    return relayed


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
    shared: httpx.AsyncClient | None = getattr(request.app.state, "proxy_client", None)
    if shared is not None and not shared.is_closed:
        return shared, False
    client = httpx.AsyncClient(
        timeout=TIMEOUT, trust_env=False, follow_redirects=False, cookies=no_cookies()
    )
    return client, True


async def _send(
    request: Request,
    upstreams: Upstreams,
    client: httpx.AsyncClient,
    body: bytes | AsyncIterator[bytes] | None,
    target: Target,
    guarded: bool,
) -> tuple[httpx.Response | Response, Target]:
    """The upstream's response (headers read, body not yet), or the app's own answer when
    the upstream does not answer."""
    for attempt in (1, 2):
        sent = client.build_request(
            request.method,
            target.url("http", request),
            headers=request_headers(request.headers, target, guarded=guarded),
            content=body,
        )
        try:
            return await client.send(sent, stream=True), target
        except (httpx.ReadTimeout, httpx.WriteTimeout, httpx.PoolTimeout):
            return unavailable(request, 504, f"{upstreams.what} took too long to answer."), target
        except httpx.TransportError:
            if attempt == 2:
                break
            try:
                target = await upstreams.again(request, target)
            except ProdprovenError as exc:
                if passed_on(exc):
                    raise
                return unavailable(request, 503, str(exc)), target
            if body is not None and not isinstance(body, bytes):
                break  # a streamed body is gone: the browser may try again
    message = f"{upstreams.what} does not answer; try again in a moment."
    return unavailable(request, 502, message), target
