"""How the candidate worked, for assessors: the work-process card of the run page
(:func:`work_of`), a timeline step's diff and a terminal recording's transcript or cast.
Another firm's run is "not found", as on every run route.

The card plays each terminal recording with the ``asciinema-player`` component when its files
are in the static folder's ``player/`` (``infra/dev.sh`` installs them from the npm registry,
pinned by ``infra/player/package-lock.json``); without them the card says so and the
transcripts remain."""

from __future__ import annotations

import tarfile
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from prodproven.runner.errors import ProdprovenError, RunNotFound
from prodproven.runner.portal.core import Portal
from prodproven.runner.runs import casts, workprocess
from prodproven.runner.runs.store import Run
from prodproven.runner.runs.timeline import timeline_of
from prodproven.runner.runs.workspace import run_folder
from prodproven.runner.web.auth import AssessorContext, assessor, portal
from prodproven.runner.web.inputs import attachment
from prodproven.runner.web.responses import page

router = APIRouter(include_in_schema=False)
Who = Annotated[AssessorContext, Depends(assessor)]
ThePortal = Annotated[Portal, Depends(portal)]
PLAYER = ("asciinema-player.min.js", "asciinema-player.css")
"""The player's files, served under ``/static/player/``."""


@dataclass(frozen=True)
class WorkCard:
    """The run page's card: how the candidate worked, and whether the player is installed."""

    process: workprocess.WorkProcess
    player: bool
    idle_limit_s: float = casts.PLAY_IDLE_LIMIT_S
    """The longest pause the player shows, as the markers are placed."""


def player_installed() -> bool:
    """Whether the player's files are in the static folder's ``player/``."""
    folder = files("prodproven.runner.present") / "static" / "player"
    return all((folder / name).is_file() for name in PLAYER)


def run_root(the_portal: Portal, run: Run) -> Path:
    return run_folder(the_portal.settings.data_dir, run.id)


def work_of(the_portal: Portal, run: Run) -> WorkCard | str:
    """How the candidate of ``run`` (already checked visible) worked, or why it cannot be
    read (shown on the page instead)."""
    events = [(e.kind, e.at, e.data) for e in the_portal.records.store.events(run.id)]
    running = [at for kind, at, _ in events if kind == "status.running"]
    try:
        process = workprocess.read(
            run_root(the_portal, run), events, running[0] if running else run.created_at
        )
    except (OSError, tarfile.TarError, ProdprovenError) as exc:
        return f"the recordings or timeline of run {run.id} cannot be read: {exc}"
    return WorkCard(process, player_installed())


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
    text = casts.transcript(recordings.read(f"{name}.cast"))
    return page(
        request,
        "recording_transcript.html",
        csrf=who.session.csrf,
        user=who,
        run=run,
        name=name,
        text=text,
    )
