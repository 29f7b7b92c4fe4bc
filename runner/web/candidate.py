"""The candidate's pages: the invitation link, the brief, the clock, the tools, submit, and
sharing their record (docs/teams.md#sharing-a-record).

The clock is the server's: the page is told how many seconds remain and counts down from
that, asking the server again every few seconds. Nothing lives only in the browser, so a
refresh or a lost tab (reopened in the same browser) shows the same run.
"""

from __future__ import annotations

import secrets
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response

from prodproven.runner.errors import RunStateError
from prodproven.runner.lifecycle.admission import cluster_reason
from prodproven.runner.portal.core import Portal
from prodproven.runner.runs.lab import LAB_BASE_URL
from prodproven.runner.runs.store import Status
from prodproven.runner.web.auth import (
    CANDIDATE_COOKIE,
    LOGIN_COOKIE,
    CandidateContext,
    candidate,
    checked_form,
    checked_login_form,
    portal,
)
from prodproven.runner.web.jobs import Jobs
from prodproven.runner.web.responses import page, set_cookie

router = APIRouter(include_in_schema=False)
Who = Annotated[CandidateContext, Depends(candidate)]
ThePortal = Annotated[Portal, Depends(portal)]

MESSAGES = {
    Status.created: "Your workspace is being prepared.",
    Status.queued: "The machine is full right now: your workspace starts as soon as there is "
    "room, and the clock only then.",
    Status.provisioning: "Your workspace is being prepared.",
    Status.running: "Your workspace is running. The clock is ticking.",
    Status.submitted: "Your work was submitted and is being archived.",
    Status.grading: "Your work was submitted and is being graded.",
    Status.graded: "Your work was received and graded. Thank you! The firm will be in touch.",
    Status.errored: (
        "Something went wrong on our side; the firm was told, with what was kept of your work."
    ),
    Status.cancelled: "The firm ended this run; what your workspace held is kept.",
}
CLUSTER_FULL = (
    "The cluster is full right now: your workspace starts as soon as one of its machines has "
    "room, and the clock only then."
)
"""A queued run's message while it waits for the cluster (it has no place in a queue)."""


def _jobs(request: Request) -> Jobs:
    found: Jobs = request.app.state.jobs
    return found


@router.get("/i/{token}")
def invitation(request: Request, token: str, the_portal: ThePortal) -> Response:
    """The invitation's page with its button: visiting the link redeems nothing."""
    found = the_portal.invited.preview(token, request.cookies.get(CANDIDATE_COOKIE))
    if found is None:
        return RedirectResponse("/candidate", status_code=303)
    secret = secrets.token_urlsafe(24)
    response = page(request, "invitation.html", csrf=secret, invitation=found)
    set_cookie(request, response, LOGIN_COOKIE, secret, samesite="strict", max_age=3600)
    return response


@router.post("/i/{token}")
async def open_invitation(request: Request, token: str, the_portal: ThePortal) -> Response:
    """The button of the invitation's page: redeems the link for this browser."""
    await checked_login_form(request)
    opened = the_portal.invited.open(token, request.cookies.get(CANDIDATE_COOKIE))
    response = RedirectResponse("/candidate", status_code=303)
    response.delete_cookie(LOGIN_COOKIE)
    if opened is None:
        return response  # this browser already holds the invitation's session
    lifetime = int(opened.lifetime.total_seconds())
    set_cookie(request, response, CANDIDATE_COOKIE, opened.cookie, max_age=lifetime)
    return response


def _state(request: Request, who: CandidateContext, the_portal: Portal) -> dict[str, Any]:
    state = the_portal.invited.state(who.invitation_id)
    jobs = _jobs(request)
    run = state.run
    message = MESSAGES[run.status] if run else "Read the brief, then start when ready."
    reason = cluster_reason(run) if run else None
    if state.queue is not None:
        message += f" You are number {state.queue.position} in the queue."
    elif reason is not None:
        message = f"{CLUSTER_FULL} ({reason})"
    return {
        "status": run.status.value if run else "not started",
        "message": message,
        "queue_position": state.queue.position if state.queue else None,
        "remaining_s": state.remaining_s,
        "deadline": run.deadline.isoformat() if run and run.deadline else None,
        "busy": state.busy or ("working" if jobs.active(who.invitation_id) else None),
        "failure": jobs.failure(who.invitation_id),
        "running": bool(run and run.status == Status.running),
    }


@router.get("/candidate")
def home(request: Request, who: Who, the_portal: ThePortal) -> Response:
    return _home(request, who, the_portal)


def _home(request: Request, who: Who, the_portal: Portal, link: str | None = None) -> Response:
    """The candidate's page; ``link`` is a record link they just made (shown only now)."""
    state = the_portal.invited.state(who.invitation_id)
    return page(
        request,
        "candidate.html",
        csrf=who.session.csrf,
        state=state,
        live=_state(request, who, the_portal),
        tools=the_portal.catalogue.tools(state.challenge),
        credentials=the_portal.credentials.of_invitation(who.invitation_id),
        shared=the_portal.candidates.own_share(who.invitation_id),
        link=link,
        brief=(state.challenge.root / "brief.md").read_text(),
    )


@router.post("/candidate/share")
async def share(request: Request, who: Who, the_portal: ThePortal) -> Response:
    """Share the candidate's record (their choice): the new link, shown once; an older one
    stops working."""
    await checked_form(request, who.session)
    _, link = the_portal.candidates.share_own(who.invitation_id)
    response = _home(request, who, the_portal, link)
    response.headers["Cache-Control"] = "no-store"
    return response


@router.post("/candidate/unshare")
async def unshare(request: Request, who: Who, the_portal: ThePortal) -> Response:
    await checked_form(request, who.session)
    if the_portal.candidates.own_share(who.invitation_id) is not None:
        the_portal.candidates.unshare_own(who.invitation_id)
    return RedirectResponse("/candidate#record", status_code=303)


@router.get("/candidate/status")
def status(request: Request, who: Who, the_portal: ThePortal) -> dict[str, Any]:
    return _state(request, who, the_portal)


@router.post("/candidate/start")
async def start(request: Request, who: Who, the_portal: ThePortal) -> Response:
    await checked_form(request, who.session)
    state = the_portal.invited.state(who.invitation_id)
    if state.can_start:
        _jobs(request).submit(
            "start", who.invitation_id, lambda: the_portal.invited.start(who.invitation_id)
        )
    return RedirectResponse("/candidate", status_code=303)


@router.get("/candidate/submit")
def confirm_submit(request: Request, who: Who, the_portal: ThePortal) -> Response:
    state = the_portal.invited.state(who.invitation_id)
    if state.run is None or state.run.status != Status.running:
        return RedirectResponse("/candidate", status_code=303)
    return page(request, "candidate_submit.html", csrf=who.session.csrf, state=state)


@router.post("/candidate/submit")
async def submit(request: Request, who: Who, the_portal: ThePortal) -> Response:
    await checked_form(request, who.session)
    state = the_portal.invited.state(who.invitation_id)
    if state.run is None:
        raise RunStateError("start the challenge before you submit")
    if state.run.status == Status.running:
        _jobs(request).submit(
            "grade",
            who.invitation_id,
            lambda: the_portal.invited.submit(who.invitation_id),
            run_id=state.run.id,
        )
    return RedirectResponse("/candidate", status_code=303)


@router.get("/candidate/tools/{name}")
def tool(name: str, who: Who) -> Response:
    """A tool of the run: ``lab`` is JupyterLab (/candidate/lab/), any other is served by the
    app under /candidate/tools/NAME/ (runner/web/tools.py)."""
    if name == "lab":
        return RedirectResponse(f"{LAB_BASE_URL}lab", status_code=303)
    return RedirectResponse(f"/candidate/tools/{name}/", status_code=303)
