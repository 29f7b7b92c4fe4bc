"""The candidate's JupyterLab on the web app's own origin: a reverse proxy under
``/candidate/lab/`` (JupyterLab's base URL, :data:`prodproven.runner.runs.lab.LAB_BASE_URL`),
through the app's proxy core (:mod:`prodproven.runner.web.upstream`).

Remote candidates reach only the web app, so every request and WebSocket under that prefix is
forwarded, same path and query, to their own run's lab on ``127.0.0.1:PORT`` (the runner's
port forward into the pod). Only the candidate's session cookie opens it: the proxy adds the
lab's token (``Authorization: token …``) itself, so the browser never needs it, and an
assessor or another candidate reaches no one else's lab. JupyterLab skips its XSRF and Origin
checks for token-authenticated requests, so the proxy does them (the core's cross-site
refusal). JupyterLab's pages get the app's alert banner script before ``</body>``.

The candidate's terminals and cell executions are recorded as they pass
(:mod:`prodproven.runner.runs.recording`, into their run's data directory, by
:func:`record_lab`): here, for the candidate's own lab, and in ``prodproven lab``'s relay
(:mod:`prodproven.runner.web.lab_relay`); the tools proxy and assessors' views record nothing.

Finding the upstream is a cached lookup
(:meth:`prodproven.runner.portal.invited.Invited.lab_upstream`); when the upstream cannot be
reached the entry is dropped and the runner asked once more (it restarts a dead lab), then the
request is sent again, once.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from starlette.requests import HTTPConnection
from starlette.websockets import WebSocket

from prodproven.runner.errors import AccessDenied
from prodproven.runner.lifecycle.core import Runner
from prodproven.runner.portal.core import Portal
from prodproven.runner.runs import recording
from prodproven.runner.runs.lab import LAB_BASE_URL
from prodproven.runner.web.auth import CANDIDATE_COOKIE
from prodproven.runner.web.upstream import (
    METHODS,
    Target,
    portal_of,
    proxy_http,
    remembered,
)
from prodproven.runner.web.upstream_ws import FrameObserver, proxy_websocket

PREFIX = LAB_BASE_URL
BANNER = b'<script src="/static/alerts.js" defer></script>'
"""Put into JupyterLab's pages: the app's alerts (runner/present/static/alerts.js)."""

router = APIRouter(include_in_schema=False)


def candidate_cookie(conn: HTTPConnection) -> str:
    """The candidate session cookie of ``conn``. Raises AccessDenied without one."""
    cookie = conn.cookies.get(CANDIDATE_COOKIE)
    if not cookie:
        raise AccessDenied("open the link of your invitation to reach this page")
    return cookie


class CandidateUpstream:
    """A target of the run of the invitation of the browser's candidate session, found by
    ``lookup(portal, invitation_id, path_params, failed_port)``, remembered per session (and
    per tool: the path's ``name``)."""

    def __init__(
        self, what: str, lookup: Callable[[Portal, str, Mapping[str, str], int | None], Target]
    ) -> None:
        self.what = what
        self._lookup = lookup

    async def find(self, conn: HTTPConnection) -> Target:
        return await self._checked(conn, None)

    async def again(self, conn: HTTPConnection, failed: Target) -> Target:
        return await self._checked(conn, failed.port)

    async def _checked(self, conn: HTTPConnection, failed_port: int | None) -> Target:
        cookie = candidate_cookie(conn)
        the_portal = portal_of(conn)
        params = dict(conn.path_params)

        def check() -> Target:
            invitation_id = the_portal.accounts.candidate_session(cookie).subject
            return self._lookup(the_portal, invitation_id, params, failed_port)

        key = f"{self.what} {params.get('name', '')} {cookie}"
        return await remembered(conn, key, check, again=failed_port is not None)


@dataclass(frozen=True)
class LabTarget(Target):
    """The lab of run ``run_id``."""

    run_id: str = ""


def _lab(
    the_portal: Portal, invitation_id: str, _: Mapping[str, str], failed_port: int | None
) -> Target:
    found = the_portal.invited.lab_upstream(invitation_id, failed_port=failed_port)
    return LabTarget(
        run_id=found.run_id,
        port=found.port,
        mount=PREFIX,
        base=PREFIX,
        authorization=f"token {found.token}",
        banner=BANNER,
    )


LAB = CandidateUpstream("JupyterLab", _lab)


def recorder(conn: HTTPConnection, target: Target, path: str) -> FrameObserver | None:
    """What records the lab WebSocket at upstream ``path`` of the candidate's run: a terminal
    or a kernel channel (blocking)."""
    the_portal = portal_of(conn)
    return record_lab(
        the_portal.invited.runner(), the_portal.settings.recording_cap_mb, target, path
    )


def record_lab(runner: Runner, cap_mb: int, target: Target, path: str) -> FrameObserver | None:
    """What records the WebSocket at upstream ``path`` of ``target``, the lab of a run of
    ``runner``, into the run's recordings capped at ``cap_mb`` MiB: a terminal or a kernel
    channel; None for another WebSocket, another target, or at the cap (blocking). The lab
    proxy and ``prodproven lab``'s relay record through it."""
    if not isinstance(target, LabTarget) or not path.startswith(PREFIX):
        return None
    run_id = target.run_id
    recordings = recording.Recordings.of_run(
        runner.paths(run_id).root,
        cap_mb,
        lambda kind, data: runner.event(run_id, kind, data),
    )
    return recording.lab_observer(recordings, path[len(PREFIX) :])


@router.get("/candidate/lab")
def lab_home() -> Response:
    return RedirectResponse(f"{PREFIX}lab", status_code=303)


@router.api_route(PREFIX + "{path:path}", methods=METHODS)
async def lab_http(request: Request) -> Response:
    return await proxy_http(request, LAB)


@router.websocket(PREFIX + "{path:path}")
async def lab_websocket(websocket: WebSocket) -> None:
    await proxy_websocket(websocket, LAB, recorder)
