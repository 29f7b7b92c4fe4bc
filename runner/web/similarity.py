"""Similarity across candidates, for assessors: a challenge's flagged pairs (or one run's, as
the run page's card :func:`similar_card` lists them) and one pair's matching regions side by
side (runner/similarity/, docs/evidence.md).

Firm isolation: only runs the assessor may see are compared (the operator sees every firm's);
a pair page for a run of another firm answers 404 like any run of another firm. Evidence for a
person to judge: nothing here changes a score."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from prodproven.runner.errors import ProdprovenError, RunStateError
from prodproven.runner.portal.core import Portal
from prodproven.runner.portal.runs import RunFilter, RunSummary
from prodproven.runner.runs.store import Run
from prodproven.runner.similarity import compare, regions
from prodproven.runner.similarity import store as similarity
from prodproven.runner.web.auth import AssessorContext, assessor, portal
from prodproven.runner.web.responses import page

router = APIRouter(include_in_schema=False)
Who = Annotated[AssessorContext, Depends(assessor)]
ThePortal = Annotated[Portal, Depends(portal)]


def starter(the_portal: ThePortal) -> similarity.Starter:
    """Each run's starting workspace, from the process's runner (generated material cached).
    The runner, which needs the Docker engine, is made only when a run is compared."""
    return lambda run: similarity.starter_from(the_portal.invited.runner().provisioner)(run)


TheStarter = Annotated[similarity.Starter, Depends(starter)]


def _visible(the_portal: Portal, who: AssessorContext, challenge_id: str) -> dict[str, RunSummary]:
    found = the_portal.runs.find(who.actor, RunFilter(challenge=challenge_id))
    return {s.run.id: s for s in found}


@dataclass(frozen=True)
class Similar:
    """Flagged pairs (of one run: it is ``run_a`` of each) among the runs of a challenge the
    assessor may see, those runs by id (for their candidates)."""

    pairs: list[compare.Pair]
    runs: dict[str, RunSummary]
    threshold: float = compare.THRESHOLD


def similar_to(
    the_portal: Portal, who: AssessorContext, run: Run, the_starter: similarity.Starter
) -> Similar:
    """``run``'s (already checked visible) flagged pairs among the runs ``who`` may see.
    Raises RunStateError when ``run`` cannot be compared (similarity.pairs_of says why)."""
    visible = _visible(the_portal, who, run.challenge_id)
    store = the_portal.records.store
    return Similar(similarity.pairs_of(store, run, the_starter, among=visible), visible)


def similar_card(
    the_portal: Portal, who: AssessorContext, run: Run, the_starter: similarity.Starter
) -> Similar | str:
    """The run page's "Similar submissions": :func:`similar_to`, or why ``run`` is not
    compared (not graded, no fingerprints, no starting workspace), shown instead."""
    try:
        return similar_to(the_portal, who, run, the_starter)
    except (ProdprovenError, OSError) as exc:
        return str(exc)


@router.get("/challenges/{challenge_id}/similarity")
def challenge_similarity(
    request: Request,
    challenge_id: str,
    who: Who,
    the_portal: ThePortal,
    the_starter: TheStarter,
    run: str = "",
) -> Response:
    """The challenge's flagged pairs among the runs ``who`` may see; with ``run``, that run's
    only. Raises RunNotFound for a run not visible, RunStateError for one not compared."""
    if run:
        found = similar_to(the_portal, who, the_portal.runs.get(who.actor, run), the_starter)
    else:
        visible = _visible(the_portal, who, challenge_id)
        store = the_portal.records.store
        pairs = similarity.challenge_pairs(store, challenge_id, the_starter, among=visible)
        found = Similar(pairs, visible)
    return page(
        request,
        "similarity.html",
        csrf=who.session.csrf,
        user=who,
        challenge=challenge_id,
        run=run,
        pairs=found.pairs,
        runs=found.runs,
        threshold=compare.THRESHOLD,
    )


@router.get("/similarity/{run_a}/{run_b}")
def pair(
    request: Request,
    run_a: str,
    run_b: str,
    who: Who,
    the_portal: ThePortal,
    the_starter: TheStarter,
) -> Response:
    """Two runs of one challenge compared, their matching regions side by side. Raises
    RunNotFound (a run not visible to ``who``), RunStateError (not of one challenge, no
    archive)."""
    a = the_portal.runs.get(who.actor, run_a)
    b = the_portal.runs.get(who.actor, run_b)
    if a.challenge_id != b.challenge_id:
        raise RunStateError(
            f"runs {a.id} ({a.challenge_id}) and {b.id} ({b.challenge_id}) are of different "
            "challenges; only submissions of one challenge are compared"
        )
    if a.archive_path is None or b.archive_path is None:
        raise RunStateError(f"runs {a.id} and {b.id} need a workspace archive each")
    compared = similarity.run_pair(the_portal.records.store, a, b, the_starter)
    panes = (
        regions.side_by_side(compared, Path(a.archive_path), Path(b.archive_path))
        if compared is not None
        else []
    )
    return page(
        request,
        "similarity_pair.html",
        csrf=who.session.csrf,
        user=who,
        a=a,
        b=b,
        pair=compared,
        panes=panes,
        threshold=compare.THRESHOLD,
    )
