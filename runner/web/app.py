"""The application: routers for assessors, candidates and the API, the sign-in pages, and the
one place errors become responses (a page for people, JSON for scripts)."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib.metadata import version
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from prodproven.runner import logs
from prodproven.runner.config import Settings
from prodproven.runner.errors import (
    AccessDenied,
    AccountError,
    CandidateNotFound,
    ChallengeNotFound,
    CredentialNotFound,
    CsrfFailed,
    InvitationError,
    MessageNotFound,
    ProdprovenError,
    ReviewError,
    RunNotFound,
    RunStateError,
    ScopeDenied,
    SignInRequired,
)
from prodproven.runner.lifecycle.dueloop import DueLoop
from prodproven.runner.people.campaigns import CampaignNotFound
from prodproven.runner.people.teams import TeamNotFound
from prodproven.runner.portal.core import Portal
from prodproven.runner.present.render import environment
from prodproven.runner.spec.framework import FrameworkNotFound, RoleProfileNotFound
from prodproven.runner.web import (
    api,
    api_campaigns,
    api_frameworks,
    api_teams,
    assessor,
    campaigns,
    candidate,
    candidates,
    credentials,
    proxy,
    similarity,
    tools,
    upstream,
)
from prodproven.runner.web.alerts import router as alerts_router
from prodproven.runner.web.auth import (
    ASSESSOR_COOKIE,
    LOGIN_COOKIE,
    checked_form,
    checked_login_form,
    client_address,
    sign_in_refusal,
)
from prodproven.runner.web.auth import assessor as signed_in
from prodproven.runner.web.guard import Guard
from prodproven.runner.web.jobs import Jobs
from prodproven.runner.web.outbox import router as outbox_router
from prodproven.runner.web.responses import page, set_cookie
from prodproven.runner.web.shares import router as shares_router
from prodproven.runner.web.teams import router as teams_router
from prodproven.runner.web.workprocess import router as workprocess_router

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
        "script-src 'self' 'wasm-unsafe-eval'; frame-ancestors 'none'; form-action 'self'; "
        "base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}
"""No inline scripts, nothing from elsewhere, never framed: a candidate's file or notebook
shown to an assessor cannot run code in the assessor's session. ``'wasm-unsafe-eval'`` lets
the app's own scripts compile WebAssembly (the recordings' player emulates the terminal in it);
JavaScript's eval stays forbidden. Not sent with the answers the proxy relays
(runner/web/upstream.py): JupyterLab and MLflow need their scripts, and candidate code's
answers get a sandbox policy instead."""
HSTS = {"Strict-Transport-Security": "max-age=31536000"}
"""Sent when the public URL is ``https://``: browsers then refuse plain HTTP to the host for a
year (docs/operations.md, behind a TLS reverse proxy)."""


def security_headers(settings: Settings) -> dict[str, str]:
    """The headers every answer of the app carries: SECURITY_HEADERS, and HSTS when people
    reach the app over TLS."""
    tls = settings.base_url.startswith("https://")
    return {**SECURITY_HEADERS, **(HSTS if tls else {})}


STATUS_OF: list[tuple[type[ProdprovenError], int]] = [
    (ScopeDenied, 403),
    (CsrfFailed, 403),
    (AccessDenied, 401),
    (RunNotFound, 404),
    (CredentialNotFound, 404),
    (CandidateNotFound, 404),
    (ChallengeNotFound, 404),
    (FrameworkNotFound, 404),
    (RoleProfileNotFound, 404),
    (TeamNotFound, 404),
    (CampaignNotFound, 404),
    (MessageNotFound, 404),
    (RunStateError, 409),
    (ReviewError, 400),
    (InvitationError, 400),
    (AccountError, 400),
    (ProdprovenError, 400),
]


def create_app(portal: Portal, jobs: Jobs | None = None) -> FastAPI:
    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        # campaigns' steps and the outbox's email are due whether or not a run is open
        due = DueLoop(portal.campaigns.due_work())
        async with upstream.upstream_client() as client:
            app.state.proxy_client = client
            with due.running():
                yield
        app.state.jobs.shutdown()

    app = FastAPI(
        lifespan=lifespan,
        title="prodproven",
        version=version("prodproven"),
        description="Invite candidates, follow their runs and review graded results. "
        "Authenticate with `Authorization: Bearer <token>` (make one with "
        "`prodproven assessor token EMAIL`).",
        docs_url=None,
        redoc_url=None,
        openapi_url="/openapi.json",
    )
    logs.configure(portal.settings)
    app.state.portal = portal
    app.state.jobs = jobs or Jobs()
    app.state.templates = environment()
    static = StaticFiles(packages=[("prodproven.runner.present", "static")])
    app.mount("/static", static, name="static")
    app.include_router(api.router)
    app.include_router(api_frameworks.router)
    app.include_router(api_teams.router)
    app.include_router(api_campaigns.router)
    app.include_router(assessor.router)
    app.include_router(candidate.router)
    app.include_router(alerts_router)
    app.include_router(credentials.router)
    app.include_router(shares_router)
    app.include_router(teams_router)
    app.include_router(campaigns.router)
    app.include_router(outbox_router)
    app.include_router(candidates.router)
    app.include_router(proxy.router)
    app.include_router(tools.router)
    app.include_router(similarity.router)
    app.include_router(workprocess_router)
    _sign_in_routes(app)

    app.add_middleware(Guard, headers=security_headers(portal.settings))

    @app.exception_handler(ProdprovenError)
    async def prodproven_error(request: Request, exc: ProdprovenError) -> Response:
        return error_response(request, exc)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_: Request, exc: RequestValidationError) -> Response:
        return invalid(exc)

    return app


def invalid(exc: RequestValidationError) -> Response:
    """422 naming each problem's place and kind, without the value sent: it may be huge, or
    not JSON at all (NaN)."""
    problems = [
        {"loc": list(e["loc"]), "msg": str(e["msg"])[:300], "type": e["type"]}
        for e in exc.errors()[:20]
    ]
    return JSONResponse({"detail": problems}, status_code=422)


def error_response(request: Request, exc: ProdprovenError) -> Response:
    status = next(code for kind, code in STATUS_OF if isinstance(exc, kind))
    if request.url.path.startswith("/api/"):
        headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
        return JSONResponse({"detail": str(exc)}, status_code=status, headers=headers)
    if isinstance(exc, SignInRequired):
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/login?next={quote(target)}", status_code=303)
    return page(request, "error.html", status_code=status, message=str(exc), status=status)


def _safe_next(target: str | None) -> str:
    """Only paths of this site: never ``//elsewhere`` or ``https://elsewhere``."""
    if target and target.startswith("/") and not target.startswith("//"):
        return target
    return "/runs"


def _sign_in_routes(app: FastAPI) -> None:
    @app.get("/login", include_in_schema=False)
    def login_page(request: Request, next: str = "/runs") -> Response:
        token = secrets.token_urlsafe(24)
        response = page(request, "login.html", csrf=token, next=_safe_next(next), error=None)
        set_cookie(request, response, LOGIN_COOKIE, token, samesite="strict", max_age=3600)
        return response

    @app.post("/login", include_in_schema=False)
    async def login(request: Request) -> Response:
        form = await checked_login_form(request)
        the_portal: Portal = request.app.state.portal
        email, password = str(form.get("email", "")), str(form.get("password", ""))
        target = _safe_next(str(form.get("next", "")))
        try:
            _, cookie = the_portal.accounts.sign_in(email, password, client_address(request))
        except AccessDenied as exc:
            token = str(form.get("csrf"))
            status, headers = sign_in_refusal(exc)
            refused = page(
                request, "login.html", status_code=status, csrf=token, next=target, error=str(exc)
            )
            refused.headers.update(headers)
            return refused
        response = RedirectResponse(target, status_code=303)
        hours = the_portal.settings.session_hours
        set_cookie(request, response, ASSESSOR_COOKIE, cookie, max_age=hours * 3600)
        response.delete_cookie(LOGIN_COOKIE)
        return response

    @app.post("/logout", include_in_schema=False)
    async def logout(request: Request) -> Response:
        who = signed_in(request)
        await checked_form(request, who.session)
        request.app.state.portal.accounts.sign_out(request.cookies[ASSESSOR_COOKIE])
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(ASSESSOR_COOKIE)
        return response

    @app.get("/", include_in_schema=False)
    def home() -> Response:
        return RedirectResponse("/runs", status_code=303)
