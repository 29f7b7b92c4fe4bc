"""A person's shared record on the web (docs/teams.md#sharing-a-record): anyone holding the
link sees the person's name, their credentials valid now and their current levels, as a page
(``/record/TOKEN``) or JSON (``/record/TOKEN.json``), without signing in. Nothing is cached:
a link the person revokes stops working at once. A revoked link and one never made get the
same 404."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response

from prodproven.runner.people.shares import ShareNotFound
from prodproven.runner.portal.core import Portal
from prodproven.runner.web.auth import portal
from prodproven.runner.web.responses import page

router = APIRouter(include_in_schema=False)
ThePortal = Annotated[Portal, Depends(portal)]
PRIVATE = {"Cache-Control": "no-store", "X-Robots-Tag": "noindex"}
"""Never cached (a revoked link must stop at once), never indexed by a search engine."""


@router.get("/record/{token}.json")
def shared_json(token: str, the_portal: ThePortal) -> Response:
    try:
        found = the_portal.candidates.shared_record(token)
    except ShareNotFound as exc:
        return JSONResponse({"detail": str(exc)}, status_code=404, headers=PRIVATE)
    return Response(found.model_dump_json(indent=2), media_type="application/json", headers=PRIVATE)


@router.get("/record/{token}")
def shared_page(request: Request, token: str, the_portal: ThePortal) -> Response:
    try:
        found = the_portal.candidates.shared_record(token)
    except ShareNotFound as exc:
        answer = page(request, "error.html", 404, message=str(exc), status=404)
    else:
        answer = page(request, "shared_record.html", record=found, token=token)
    answer.headers.update(PRIVATE)
    return answer
