"""A run's tools in the browser, through the web app's proxy core
(:mod:`prodproven.runner.web.upstream`), each under a prefix of its own served from its ``/``:

- ``/candidate/tools/NAME/…``: a service (e.g. MLflow's UI) or declared port of the candidate's
  running run, for the candidate's session only (``Invited.tool_upstream``, cached, so that
  only the first request asks the runner for its forward);
- ``/runs/RUN/tools/NAME/…``: a graded run's trusted service restored from its archive, read
  only, for an assessor of the run's firm (``Portal.runs.tool_view``); requests that would
  write are refused with 405.

Candidate code's answers (a declared port, the live service, what a service serves outside
its kind's own UI, such as MLflow's artifacts) carry ``Content-Security-Policy: sandbox …``
and ``nosniff``, so they never run as the app's origin (:attr:`ServiceKind.trusted_ui`).
"""

from __future__ import annotations

from collections.abc import Mapping

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from starlette.requests import HTTPConnection
from starlette.websockets import WebSocket

from prodproven.runner.errors import AccessDenied, SignInRequired
from prodproven.runner.portal.access import Actor
from prodproven.runner.portal.core import Portal
from prodproven.runner.web.auth import ASSESSOR_COOKIE
from prodproven.runner.web.proxy import CandidateUpstream
from prodproven.runner.web.upstream import (
    METHODS,
    Target,
    portal_of,
    proxy_http,
    remembered,
)
from prodproven.runner.web.upstream_ws import proxy_websocket

TOOLS = "/candidate/tools/"
READ_ONLY = "this view of a graded run is read-only"

router = APIRouter(include_in_schema=False)


# the candidate's tools -------------------------------------------------------------------------
def _tool(
    the_portal: Portal, invitation_id: str, params: Mapping[str, str], failed_port: int | None
) -> Target:
    name = params["name"]
    found = the_portal.invited.tool_upstream(invitation_id, name, failed_port=failed_port)
    return Target(port=found.port, mount=f"{TOOLS}{name}/", sandbox=True, trusted=found.trusted)


CANDIDATE_TOOLS = CandidateUpstream("This tool", _tool)


@router.api_route(TOOLS + "{name}/{path:path}", methods=METHODS)
async def tool_http(request: Request) -> Response:
    return await proxy_http(request, CANDIDATE_TOOLS)


@router.websocket(TOOLS + "{name}/{path:path}")
async def tool_websocket(websocket: WebSocket) -> None:
    await proxy_websocket(websocket, CANDIDATE_TOOLS)


# the assessor's read-only view -----------------------------------------------------------------
class AssessorView:
    """Restored service ``name`` of graded run ``run_id`` (path parameters), for the
    browser's assessor session."""

    what = "The restored service"

    async def find(self, conn: HTTPConnection) -> Target:
        return await self._checked(conn, again=False)

    async def again(self, conn: HTTPConnection, failed: Target) -> Target:
        return await self._checked(conn, again=True)

    async def _checked(self, conn: HTTPConnection, *, again: bool) -> Target:
        cookie = conn.cookies.get(ASSESSOR_COOKIE)
        if not cookie:
            raise SignInRequired("sign in to see this page")
        run_id: str = conn.path_params["run_id"]
        name: str = conn.path_params["name"]
        the_portal = portal_of(conn)
        return await remembered(
            conn,
            f"view {run_id} {name} {cookie}",
            lambda: _view(the_portal, cookie, run_id, name),
            again=again,
        )


def _view(the_portal: Portal, cookie: str, run_id: str, name: str) -> Target:
    """Raises SignInRequired for a session that is over, and what ``tool_view`` raises."""
    try:
        person, _ = the_portal.accounts.assessor_session(cookie)
    except AccessDenied as exc:
        raise SignInRequired(str(exc)) from None
    view = the_portal.runs.tool_view(Actor.of(person), run_id, name)
    return Target(
        port=view.port,
        mount=f"/runs/{run_id}/tools/{name}/",
        sandbox=True,
        trusted=view.trusted,
        allows=view.allows,
        refusal=READ_ONLY,
    )


ASSESSOR_VIEW = AssessorView()


@router.get("/runs/{run_id}/tools/{name}")
def view_home(run_id: str, name: str) -> Response:
    return RedirectResponse(f"/runs/{run_id}/tools/{name}/", status_code=303)


@router.api_route("/runs/{run_id}/tools/{name}/{path:path}", methods=METHODS)
async def view_http(request: Request) -> Response:
    return await proxy_http(request, ASSESSOR_VIEW)


@router.websocket("/runs/{run_id}/tools/{name}/{path:path}")
async def view_websocket(websocket: WebSocket) -> None:
    await proxy_websocket(websocket, ASSESSOR_VIEW)
