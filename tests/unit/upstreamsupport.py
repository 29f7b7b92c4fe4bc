"""A real upstream on loopback standing in for what the web app's proxy relays to (JupyterLab,
MLflow, a candidate's service): a small Starlette app under uvicorn, in a thread, that echoes
what it got over HTTP and WebSocket, under a root path of its own."""

from __future__ import annotations

import gzip
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import uvicorn
from fastapi.testclient import TestClient
from starlette.applications import Starlette
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from prodproven.runner.portal.access import Actor
from prodproven.runner.portal.core import Portal
from prodproven.runner.runs.store import Store
from tests.conftest import free_port
from tests.unit.fakes import FakeRunner, as_runner
from tests.unit.websupport import Web, make_web

PAGE = b"<!doctype html><html><head></head><body><p>the upstream's page</p></BODY></html>"


class Upstream:
    """Serves under ``root``: ``stream`` (a body in chunks), ``page.html`` (PAGE, gzipped),
    ``ws/…`` (a WebSocket echo) and any other path (a JSON echo of the request, which sets
    cookies and redirects when the path ends with ``/redirect`` or ``/moved``). With
    ``token``, only requests with ``Authorization: token t-…`` are answered."""

    def __init__(self, name: str, root: str = "/", *, token: bool = True) -> None:
        self.name = name
        self.root = root
        self.token = token
        self.tokens: list[str] = []
        self.closed: list[int] = []
        self.port = free_port()
        every = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"]
        app = Starlette(
            routes=[
                Route(root + "stream", self.stream),
                Route(root + "page.html", self.page),
                Route(root + "{path:path}", self.echo, methods=every),
                WebSocketRoute(root + "ws/{path:path}", self.websocket),
            ]
        )
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            assert time.monotonic() < deadline, "the upstream did not start"
            time.sleep(0.02)

    def serve_websockets(self, routes: dict[str, Callable[[WebSocket], Any]]) -> None:
        """Serve each WebSocket ``routes`` names (a path under ``root`` -> its handler) ahead
        of the echo routes."""
        app = self.server.config.app
        assert isinstance(app, Starlette)
        served: list[Any] = app.routes
        served[:0] = [WebSocketRoute(self.root + path, handler) for path, handler in routes.items()]

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)

    def authorised(self, headers: Headers) -> bool:
        token = headers.get("authorization", "").removeprefix("token ")
        self.tokens.append(token)
        return not self.token or token.startswith("t-")

    async def echo(self, request: Request) -> Response:
        if not self.authorised(request.headers):
            return Response("forbidden", 403)
        body = await request.body()
        response = JSONResponse(
            {
                "upstream": self.name,
                "method": request.method,
                "path": request.scope["raw_path"].decode(),
                "query": request.scope["query_string"].decode(),
                "body": body.decode(),
                "headers": dict(request.headers),
            },
            headers={
                "Content-Security-Policy": "frame-ancestors 'self'",
                "Access-Control-Allow-Origin": request.headers.get("origin", "*"),
            },
        )
        response.set_cookie("_xsrf", "2|abc", path=self.root)
        response.set_cookie("pp_session", "planted", path="/")
        if request.url.path.endswith("/redirect"):
            response.status_code = 302
            response.headers["location"] = f"http://127.0.0.1:{self.port}{self.root}lab"
        elif request.url.path.endswith("/moved"):
            response.status_code = 302
            response.headers["location"] = f"{self.root}elsewhere?x=1"
        return response

    async def page(self, request: Request) -> Response:
        return Response(
            gzip.compress(PAGE),
            media_type="text/html",
            headers={"Content-Encoding": "gzip", "X-Content-Type-Options": "whatever"},
        )

    async def stream(self, request: Request) -> Response:
        async def chunks() -> Any:
            for i in range(5):
                yield f"chunk {i}\n".encode()

        return StreamingResponse(chunks(), media_type="text/plain")

    async def websocket(self, websocket: WebSocket) -> None:
        if not self.authorised(websocket.headers):
            await websocket.close(1008)
            return
        offered = websocket.scope.get("subprotocols") or []
        await websocket.accept(subprotocol=offered[0] if offered else None)
        await websocket.send_text(f"hello from {self.name}")
        try:
            while True:
                message = await websocket.receive()
                if message["type"] == "websocket.disconnect":
                    self.closed.append(message["code"])
                    return
                if message.get("bytes") is not None:
                    await websocket.send_bytes(message["bytes"][::-1])
                elif message["text"] == "close please":
                    await websocket.close(4321, "as asked")
                    return
                else:
                    await websocket.send_text(message["text"].upper())
        except WebSocketDisconnect:
            return


def running_candidate(
    web: Web, name: str = "Cleo", challenge: str = "deploy-model"
) -> tuple[TestClient, str]:
    """A browser of a candidate whose run of ``challenge`` is running, and the run's id."""
    invitation, link = web.portal.invitations.invite(
        Actor("lead@acme.test", "acme"), challenge, name, f"{name.lower()}@x.test"
    )
    browser = web.candidate(link)
    run = web.portal.invited.start(invitation.id)
    return browser, run.id


def web_over(tmp_path: Path, make_runner: Callable[[Store, Path], FakeRunner]) -> Web:
    """The app over a fake runner made by ``make_runner(store, runs_dir)``."""
    base = make_web(tmp_path)
    runner = make_runner(base.portal.records.store, tmp_path / "runs")
    portal = Portal(
        base.settings,
        base.portal.records.store,
        lambda _: as_runner(runner),
        supervise=lambda *_: 1,
    )
    return Web(portal, runner, base.settings)
