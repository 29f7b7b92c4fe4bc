"""Who is asking, for each of the app's three audiences.

- Assessors in a browser: a session cookie (``pp_session``); every form echoes the session's
  CSRF secret.
- Candidates: the single-use invitation link opens a candidate session (``pp_candidate``)
  whose subject is the invitation; it reaches only that invitation's run.
- Scripts: ``Authorization: Bearer <API token>`` on /api/ only. The API never reads cookies,
  so a page elsewhere cannot make a signed-in browser call it.

Failed sign-ins are throttled per account and per client address (the peer of the
connection: behind a reverse proxy, the proxy's), see
:mod:`prodproven.runner.people.throttle`.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from fastapi import Request
from starlette.datastructures import FormData

from prodproven.runner.errors import AccessDenied, CsrfFailed, SignInRequired, SignInThrottled
from prodproven.runner.people.accounts import WebSession, csrf_matches
from prodproven.runner.portal.access import Actor
from prodproven.runner.portal.core import Portal

ASSESSOR_COOKIE = "pp_session"
CANDIDATE_COOKIE = "pp_candidate"
LOGIN_COOKIE = "pp_login"


@dataclass(frozen=True)
class AssessorContext:
    actor: Actor
    session: WebSession
    name: str


@dataclass(frozen=True)
class CandidateContext:
    invitation_id: str
    session: WebSession


def portal(request: Request) -> Portal:
    found: Portal = request.app.state.portal
    return found


def assessor(request: Request) -> AssessorContext:
    """The signed-in assessor. Raises SignInRequired."""
    cookie = request.cookies.get(ASSESSOR_COOKIE)
    if not cookie:
        raise SignInRequired("sign in to see this page")
    try:
        person, session = portal(request).accounts.assessor_session(cookie)
    except AccessDenied as exc:
        raise SignInRequired(str(exc)) from None
    return AssessorContext(Actor.of(person), session, person.name)


def candidate(request: Request) -> CandidateContext:
    """The candidate of this browser. Raises AccessDenied."""
    cookie = request.cookies.get(CANDIDATE_COOKIE)
    if not cookie:
        raise AccessDenied("open the link of your invitation to reach this page")
    session = portal(request).accounts.candidate_session(cookie)
    return CandidateContext(session.subject, session)


def api_actor(request: Request) -> Actor:
    """The actor of a bearer token. Raises AccessDenied (401 at the edge)."""
    header = request.headers.get("authorization", "")
    scheme, _, secret = header.partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        raise AccessDenied("this API needs an 'Authorization: Bearer <token>' header")
    return portal(request).accounts.api_actor(secret.strip())


async def checked_form(request: Request, session: WebSession) -> FormData:
    """The posted form, once its CSRF field matches the session. Raises CsrfFailed."""
    form = await request.form()
    sent = form.get("csrf")
    if not csrf_matches(session, sent if isinstance(sent, str) else None):
        raise CsrfFailed()
    return form


async def checked_login_form(request: Request) -> FormData:
    """The sign-in form: no session exists yet, so its CSRF secret is a cookie it must echo."""
    form = await request.form()
    cookie, sent = request.cookies.get(LOGIN_COOKIE), form.get("csrf")
    if not cookie or not isinstance(sent, str) or not secrets.compare_digest(cookie, sent):
        raise CsrfFailed()
    return form


def client_address(request: Request) -> str:
    """The address the request came from, as sign-in throttling counts it."""
    return request.client.host if request.client else "unknown"


def sign_in_refusal(exc: AccessDenied) -> tuple[int, dict[str, str]]:
    """The status and headers of a refused sign-in: 429, with ``Retry-After`` when there is a
    time to wait, for too many attempts; 401 otherwise."""
    if not isinstance(exc, SignInThrottled):
        return 401, {}
    wait = {"Retry-After": str(exc.retry_after)} if exc.retry_after is not None else {}
    return 429, wait
