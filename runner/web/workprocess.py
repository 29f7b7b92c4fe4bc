"""How the candidate worked, for assessors: the work-process card of the run page
(:func:`work_of`), a timeline step's diff and a terminal recording's transcript or cast.
Another firm's run is "not found", as on every run route."""

from __future__ import annotations

import tarfile
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from prodproven.runner.errors import ProdprovenError, RunNotFound
from prodproven.runner.portal.core import Portal
from prodproven.runner.runs import workprocess
from prodproven.runner.runs.store import Run
from prodproven.runner.runs.timeline import timeline_of
from prodproven.runner.web.auth import AssessorContext, assessor, portal
from prodproven.runner.web.inputs import attachment
from prodproven.runner.web.responses import page

router = APIRouter(include_in_schema=False)
Who = Annotated[AssessorContext, Depends(assessor)]
ThePortal = Annotated[Portal, Depends(portal)]


def run_root(the_portal: Portal, run: Run) -> Path:
    return the_portal.settings.data_dir / "runs" / run.id


def work_of(the_portal: Portal, run: Run) -> workprocess.WorkProcess | str:
    """How the candidate of ``run`` (already checked visible) worked, or why it cannot be
    read (shown on the page instead)."""
    events = [(e.kind, e.at, e.data) for e in the_portal.records.store.events(run.id)]
    running = [at for kind, at, _ in events if kind == "status.running"]
    try:
        return workprocess.read(
            run_root(the_portal, run), events, running[0] if running else run.created_at
        )
    except (OSError, tarfile.TarError, ProdprovenError) as exc:
        return f"the recordings or timeline of run {run.id} cannot be read: {exc}"


@router.get("/runs/{run_id}/timeline/{step}")
def timeline_step(
    request: Request, run_id: str, step: int, who: Who, the_portal: ThePortal
) -> Response:
    run = the_portal.runs.get(who.actor, run_id)
    try:
        diffs = timeline_of(run_root(the_portal, run)).diff(step)
    except ProdprovenError as exc:
        raise RunNotFound(str(exc)) from exc
    return page(
        request,
        "timeline_step.html",
        csrf=who.session.csrf,
        user=who,
        run=run,
        step=step,
        diffs=diffs,
    )


@router.get("/runs/{run_id}/recordings/{name}")
def recording(
    request: Request, run_id: str, name: str, who: Who, the_portal: ThePortal
) -> Response:
    """``NAME.cast`` downloads the recording as it is; ``NAME`` shows its transcript."""
    run = the_portal.runs.get(who.actor, run_id)
    recordings = workprocess.Recordings(run_root(the_portal, run))
    if name.endswith(".cast"):
        return Response(
            recordings.read(name),
            media_type="application/octet-stream",
            headers={"Content-Disposition": attachment(f"{run_id}-{name}")},
        )
    text = workprocess.transcript(recordings.read(f"{name}.cast"))
    return page(
        request,
        "recording_transcript.html",
        csrf=who.session.csrf,
        user=who,
        run=run,
        name=name,
        text=text,
    )
