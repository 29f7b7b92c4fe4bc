"""Assessors' pages: runs, one run in detail with its review, comparison, invitations."""

from __future__ import annotations

import mimetypes
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from prodproven.runner.errors import ProdprovenError, ReviewError, RunStateError
from prodproven.runner.people.invitations import (
    MAX_EXTRA_MINUTES,
    MAX_EXTRA_PERCENT,
    MAX_LIFETIME,
    Accommodation,
)
from prodproven.runner.portal.core import Portal
from prodproven.runner.portal.runs import SORTS, RunFilter
from prodproven.runner.present.htmlreport import notebooks, render_report
from prodproven.runner.runs.archives import read_member
from prodproven.runner.runs.store import UNFINISHED, Status
from prodproven.runner.similarity.store import Starter
from prodproven.runner.web.auth import AssessorContext, assessor, checked_form, portal
from prodproven.runner.web.inputs import attachment, optional_number
from prodproven.runner.web.responses import page
from prodproven.runner.web.similarity import TheStarter, similar_card
from prodproven.runner.web.workprocess import work_of
from prodproven.sandbox.untrusted import UntrustedInput

router = APIRouter(include_in_schema=False)
Who = Annotated[AssessorContext, Depends(assessor)]
ThePortal = Annotated[Portal, Depends(portal)]
SHOWN_BYTES = 512 * 1024
SHOWN_RUNS = 500
"""The most rows of the runs page: a filter narrows a longer list."""


def _page(
    request: Request,
    template: str,
    who: AssessorContext,
    status_code: int = 200,
    **context: object,
) -> Response:
    return page(
        request, template, status_code=status_code, csrf=who.session.csrf, user=who, **context
    )


@router.get("/runs")
def runs(
    request: Request,
    who: Who,
    the_portal: ThePortal,
    challenge: str = "",
    candidate: str = "",
    status: str = "",
    min_score: str = "",
    sort: str = "created",
    order: str = "desc",
) -> Response:
    query = RunFilter(
        challenge=challenge or None,
        candidate=candidate or None,
        status=status or None,
        min_score=optional_number(min_score, what="the minimum score", low=0, high=100),
        sort=sort if sort in SORTS else "created",
        descending=order != "asc",
    )
    found = the_portal.runs.find(who.actor, query)
    return _page(
        request,
        "runs.html",
        who,
        runs=found[:SHOWN_RUNS],
        total=len(found),
        query=query,
        challenges=sorted({c.id for c in the_portal.catalogue.all()}),
        statuses=[s.value for s in Status],
        sorts=SORTS,
        unloadable=_unloadable(the_portal),
    )


def _unloadable(the_portal: Portal) -> int:
    """How many challenge folders do not load: the pages listing challenges say so."""
    return len(the_portal.catalogue.problems())


def run_page(
    request: Request,
    who: AssessorContext,
    the_portal: Portal,
    run_id: str,
    status_code: int = 200,
    starter: Starter | None = None,
    **extra: object,
) -> Response:
    """The run page. Its "Similar submissions" card lists the run's flagged pairs when
    ``starter`` is given (by the page's own route; a page shown again after a refused form,
    from an async route, links to them instead of fingerprinting on the event loop)."""
    detail = the_portal.runs.detail(who.actor, run_id)
    return _page(
        request,
        "run.html",
        who,
        status_code,
        d=detail,
        notebooks=notebooks(detail),
        credentials=the_portal.credentials.of_run(who.actor, run_id),
        interactive=True,
        cancellable=detail.run.status in UNFINISHED,
        work=work_of(the_portal, detail.run),
        similar=similar_card(the_portal, who, detail.run, starter) if starter else None,
        **extra,
    )


@router.get("/runs/{run_id}")
def run(
    request: Request, run_id: str, who: Who, the_portal: ThePortal, the_starter: TheStarter
) -> Response:
    return run_page(request, who, the_portal, run_id, starter=the_starter)


@router.post("/runs/{run_id}/notes")
async def add_note(request: Request, run_id: str, who: Who, the_portal: ThePortal) -> Response:
    form = await checked_form(request, who.session)
    try:
        the_portal.reviews.note(who.actor, run_id, str(form.get("text", "")))
    except ReviewError as exc:
        return run_page(request, who, the_portal, run_id, 400, review_error=str(exc))
    return RedirectResponse(f"/runs/{run_id}#review", status_code=303)


@router.post("/runs/{run_id}/overrides")
async def add_override(request: Request, run_id: str, who: Who, the_portal: ThePortal) -> Response:
    form = await checked_form(request, who.session)
    raw = str(form.get("score", ""))
    try:
        value = optional_number(raw, what="the overriding score", low=0, high=100)
        if value is None:
            raise ReviewError("an override needs a score from 0 to 100")
        the_portal.reviews.override(who.actor, run_id, value, str(form.get("reason", "")))
    except (ReviewError, RunStateError, UntrustedInput) as exc:
        return run_page(request, who, the_portal, run_id, 400, review_error=str(exc))
    return RedirectResponse(f"/runs/{run_id}#review", status_code=303)


@router.post("/runs/{run_id}/cancel")
async def cancel_run(request: Request, run_id: str, who: Who, the_portal: ThePortal) -> Response:
    form = await checked_form(request, who.session)
    try:
        # archiving and removing containers take seconds: off the event loop
        await run_in_threadpool(
            the_portal.runs.cancel, who.actor, run_id, str(form.get("reason", ""))
        )
    except RunStateError as exc:
        return run_page(request, who, the_portal, run_id, 409, cancel_error=str(exc))
    return RedirectResponse(f"/runs/{run_id}", status_code=303)


@router.get("/runs/{run_id}/workspace.tar")
def workspace_archive(run_id: str, who: Who, the_portal: ThePortal) -> Response:
    found = the_portal.runs.get(who.actor, run_id)
    if not found.archive_path or not Path(found.archive_path).is_file():
        raise ProdprovenError(f"run {run_id} has no workspace archive yet")
    return FileResponse(
        found.archive_path, media_type="application/x-tar", filename=f"{run_id}-workspace.tar"
    )


@router.get("/runs/{run_id}/files/{path:path}")
def workspace_file(
    request: Request, run_id: str, path: str, who: Who, the_portal: ThePortal, raw: int = 0
) -> Response:
    found = the_portal.runs.get(who.actor, run_id)
    if not found.archive_path:
        raise ProdprovenError(f"run {run_id} has no workspace archive yet")
    data = read_member(Path(found.archive_path), path, max_bytes=64 * 2**20 if raw else SHOWN_BYTES)
    if raw:
        # Candidate files are served as downloads, never rendered by the browser.
        return Response(
            data,
            media_type="application/octet-stream",
            headers={"Content-Disposition": attachment(Path(path).name)},
        )
    try:
        text: str | None = data.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    return _page(
        request,
        "file.html",
        who,
        run=found,
        path=path,
        text=text,
        size=len(data),
        kind=mimetypes.guess_type(path)[0] or "",
    )


@router.get("/runs/{run_id}/report.html")
def report(run_id: str, who: Who, the_portal: ThePortal) -> Response:
    html = render_report(the_portal.runs.detail(who.actor, run_id))
    return HTMLResponse(html, headers={"Content-Disposition": attachment(f"{run_id}-report.html")})


@router.get("/compare")
def compare(request: Request, who: Who, the_portal: ThePortal, challenge: str = "") -> Response:
    challenges = sorted({c.id for c in the_portal.catalogue.all()})
    table = the_portal.runs.compare(who.actor, challenge) if challenge else None
    return _page(
        request,
        "compare.html",
        who,
        table=table,
        challenges=challenges,
        chosen=challenge,
        unloadable=_unloadable(the_portal),
    )


@router.get("/invitations")
def invitations(request: Request, who: Who, the_portal: ThePortal) -> Response:
    return _invitations_page(request, who, the_portal)


def _invitations_page(
    request: Request,
    who: AssessorContext,
    the_portal: Portal,
    status_code: int = 200,
    **extra: object,
) -> Response:
    return _page(
        request,
        "invitations.html",
        who,
        status_code,
        invitations=the_portal.invitations.visible(who.actor),
        challenges=the_portal.catalogue.all(),
        unloadable=_unloadable(the_portal),
        days=the_portal.settings.invitation_days,
        **{"created": None, "link": None, "error": None, **extra},
    )


@router.post("/invitations")
async def invite(request: Request, who: Who, the_portal: ThePortal) -> Response:
    form = await checked_form(request, who.session)
    try:
        created, link = the_portal.invitations.invite(
            who.actor,
            str(form.get("challenge", "")),
            str(form.get("name", "")),
            str(form.get("email", "")),
            days=optional_number(
                str(form.get("days", "")), what="days", low=0, high=MAX_LIFETIME.days
            ),
            accommodation=Accommodation(
                _whole(form.get("extra_minutes"), "extra minutes", MAX_EXTRA_MINUTES),
                _whole(form.get("extra_percent"), "extra percent", MAX_EXTRA_PERCENT),
            ),
        )
    except ProdprovenError as exc:
        return _invitations_page(request, who, the_portal, 400, error=str(exc))
    return _invitations_page(request, who, the_portal, created=created, link=link)


def _whole(raw: object, what: str, high: int) -> int:
    """A form's whole number from 0 to ``high`` (empty: 0), rounded. Raises UntrustedInput."""
    return round(optional_number(str(raw or ""), what=what, low=0, high=high) or 0)


@router.post("/invitations/{invitation_id}/revoke")
async def revoke(request: Request, invitation_id: str, who: Who, the_portal: ThePortal) -> Response:
    await checked_form(request, who.session)
    the_portal.invitations.revoke(who.actor, invitation_id)
    return RedirectResponse("/invitations", status_code=303)
