"""Assessors' page of their firm's email, ``/outbox`` (docs/teams.md#email): every message with
its state, attempts, next try and last error, and "retry now" for a queued or failed one
(``review`` scope, the session's CSRF secret)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from prodproven.runner.portal.core import Portal
from prodproven.runner.web.auth import AssessorContext, assessor, checked_form, portal
from prodproven.runner.web.responses import page

router = APIRouter(include_in_schema=False)
Who = Annotated[AssessorContext, Depends(assessor)]
ThePortal = Annotated[Portal, Depends(portal)]


@router.get("/outbox")
def outbox(request: Request, who: Who, the_portal: ThePortal) -> Response:
    return page(
        request,
        "outbox.html",
        csrf=who.session.csrf,
        user=who,
        messages=the_portal.outbox.messages(who.actor),
        smtp=bool(the_portal.settings.smtp_host),
    )


@router.post("/outbox/{message_id}/retry")
async def retry(request: Request, message_id: int, who: Who, the_portal: ThePortal) -> Response:
    """Make the message due now and send what is due (talking to the SMTP server takes time:
    off the event loop). Another firm's message, or none, is a 404 page (MessageNotFound)."""
    await checked_form(request, who.session)
    await run_in_threadpool(the_portal.outbox.retry, who.actor, message_id)
    return RedirectResponse(f"/outbox#message-{message_id}", status_code=303)
