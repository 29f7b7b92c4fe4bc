"""``prodproven lab RUN``: a run's JupyterLab served on this machine through a relay that
records it, as the web app's lab proxy (:mod:`prodproven.runner.web.proxy`) records the
candidate's.

The relay is a small ASGI app that the CLI's process runs on a free port of ``127.0.0.1``
until Ctrl-C. Every request and WebSocket under the lab's base URL (:data:`PREFIX`) goes,
path and query kept, through the web app's proxy core (:mod:`prodproven.runner.web.upstream`)
to the run's lab forward; terminals and kernel channels are recorded as they pass by
:func:`prodproven.runner.web.proxy.record_lab`, into the run's data directory, under the run's
one cap (``PRODPROVEN_RECORDING_CAP_MB``). The relay is unguarded (``guarded=False``): it adds
no authentication and checks nothing itself; JupyterLab's own token (carried by the printed
URL, as the forward's was) is the key, and JupyterLab's own Origin and Referer checks see the
request as if the browser had addressed the lab directly. Only the web app's ``pp_*`` cookies
are held back (a web app on the same host shares its cookies with every port).
"""

from __future__ import annotations

import socket
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import uvicorn
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import HTTPConnection, Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket

from prodproven.runner.errors import ProdprovenError, RunStateError
from prodproven.runner.lifecycle.core import Runner
from prodproven.runner.runs.lab import LabLink, lab_url
from prodproven.runner.web.proxy import PREFIX, LabTarget, record_lab
from prodproven.runner.web.upstream import METHODS, Target, Upstreams, proxy_http, upstream_client
from prodproven.runner.web.upstream_ws import Observe, proxy_websocket

SHUTDOWN_S = 15
"""After Ctrl-C, how long open terminals and requests may take to close: a WebSocket to the
lab waits up to 10 s (websockets' close timeout) for the pod's port forward to pass the lab's
end of the connection, which it does late."""


class RunLab:
    """The lab of running run ``run_id`` at this process's forward, ``link`` first; after a
    failure to reach it the runner is asked again (``Runner.lab`` restarts a dead lab)."""

    what = "JupyterLab"

    def __init__(self, runner: Runner, run_id: str, link: LabLink) -> None:
        self._runner = runner
        self._run_id = run_id
        self._link = link
        self._lock = threading.Lock()

    async def find(self, conn: HTTPConnection) -> Target:
        return self._target(self._link)

    async def again(self, conn: HTTPConnection, failed: Target) -> Target:
        """Raises what ``Runner.lab`` raises (RunStateError once the run is submitted)."""
        return self._target(await run_in_threadpool(self._reopened, failed.port))

    def _reopened(self, failed_port: int) -> LabLink:
        with self._lock:
            if self._link.port == failed_port:  # else another request asked already
                self._link = self._runner.lab(self._run_id)
            return self._link

    def _target(self, link: LabLink) -> Target:
        return LabTarget(run_id=self._run_id, port=link.port, mount=PREFIX, base=PREFIX)


def relay_app(upstreams: Upstreams, observe: Observe) -> Starlette:
    """The relay: every request and WebSocket under :data:`PREFIX` to ``upstreams``' target,
    unguarded, each WebSocket seen by ``observe``'s observer; what ``upstreams`` raises is
    answered in plain text (409 for a run no longer running)."""

    async def http(request: Request) -> Response:
        return await proxy_http(request, upstreams, guarded=False)

    async def websocket(websocket: WebSocket) -> None:
        await proxy_websocket(websocket, upstreams, observe, guarded=False)

    async def refused(_: Request, exc: Exception) -> Response:
        return PlainTextResponse(str(exc), 409 if isinstance(exc, RunStateError) else 502)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with upstream_client() as client:
            app.state.proxy_client = client
            yield

    return Starlette(
        routes=[
            Route(PREFIX + "{path:path}", http, methods=METHODS),
            WebSocketRoute(PREFIX + "{path:path}", websocket),
        ],
        exception_handlers={ProdprovenError: refused},
        lifespan=lifespan,
    )


def serve(
    runner: Runner, run_id: str, link: LabLink, cap_mb: int, listening: Callable[[str], None]
) -> None:
    """Serve the JupyterLab of running run ``run_id`` (at ``link``, what ``runner.lab(run_id)``
    gave) through the relay on a free port of 127.0.0.1, recorded into the run's recordings
    capped at ``cap_mb`` MiB, until Ctrl-C; ``listening(url)`` is told the lab's URL with its
    token once the relay listens. Raises OSError when no port can be bound."""
    app = relay_app(
        RunLab(runner, run_id, link),
        lambda _, target, path: record_lab(runner, cap_mb, target, path),
    )
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(128)
    port = listener.getsockname()[1]
    config = uvicorn.Config(
        app,
        log_level="warning",
        proxy_headers=False,
        timeout_graceful_shutdown=SHUTDOWN_S,
    )
    with listener:
        listening(lab_url(f"http://127.0.0.1:{port}", link.token))
        uvicorn.Server(config).run(sockets=[listener])
