"""Assessors' candidate pages: a candidate's runs and track record with its history chart."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from prodproven.runner.people.track_record import INTERVAL_NOTE
from prodproven.runner.portal.core import Portal
from prodproven.runner.web.auth import AssessorContext, assessor, portal
from prodproven.runner.web.responses import page

router = APIRouter(include_in_schema=False)


@router.get("/candidates/{name}")
def candidate(
    request: Request,
    name: str,
    who: Annotated[AssessorContext, Depends(assessor)],
    the_portal: Annotated[Portal, Depends(portal)],
) -> Response:
    found = the_portal.candidates.record(who.actor, name)
    return page(
        request,
        "candidate_record.html",
        csrf=who.session.csrf,
        user=who,
        found=found,
        chart=found.chart(),
        months=the_portal.settings.validity_months,
        interval_note=INTERVAL_NOTE,
    )
