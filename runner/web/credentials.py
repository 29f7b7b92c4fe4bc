"""Credentials on the web: assessors issue them from a run's page, candidates download theirs,
anyone holding a credential's id sees what it attests and whether it is valid now, with
nothing of the run's private evidence, and anyone may fetch the signed revocation status list
that credentials name (``/credentials/status/revocation``)."""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response

from prodproven.runner.credentials.status_list import STATUS_PATH
from prodproven.runner.errors import CredentialError, RunStateError
from prodproven.runner.portal.core import Portal
from prodproven.runner.web.assessor import run_page
from prodproven.runner.web.auth import (
    AssessorContext,
    CandidateContext,
    assessor,
    candidate,
    checked_form,
    portal,
)
from prodproven.runner.web.inputs import attachment
from prodproven.runner.web.responses import page

router = APIRouter(include_in_schema=False)
ThePortal = Annotated[Portal, Depends(portal)]


def _download(document: dict[str, object], name: str) -> Response:
    return Response(
        json.dumps(document, indent=2),
        media_type="application/json",
        headers={"Content-Disposition": attachment(name)},
    )


@router.get(STATUS_PATH)
def revocation_list(the_portal: ThePortal) -> Response:
    """The signed Bitstring Status List: no sign-in, any origin, cached a minute at most."""
    document = the_portal.credentials.revocation_list()
    return Response(
        json.dumps(document, indent=2),
        media_type="application/vc+ld+json",
        headers={"Cache-Control": "public, max-age=60", "Access-Control-Allow-Origin": "*"},
    )


@router.get("/credentials/{credential_id}")
def public(request: Request, credential_id: str, the_portal: ThePortal) -> Response:
    issued, verdict = the_portal.credentials.public(credential_id)
    return page(request, "credential.html", issued=issued, verdict=verdict, c=issued.document)


@router.get("/credentials/{credential_id}/credential.json")
def public_json(credential_id: str, the_portal: ThePortal) -> Response:
    issued, _ = the_portal.credentials.public(credential_id)
    return _download(issued.document, "credential.json")


@router.post("/runs/{run_id}/credentials")
async def issue(
    request: Request,
    run_id: str,
    who: Annotated[AssessorContext, Depends(assessor)],
    the_portal: ThePortal,
) -> Response:
    await checked_form(request, who.session)
    try:
        issued = the_portal.credentials.issue(who.actor, run_id)
    except (CredentialError, RunStateError) as exc:
        return run_page(request, who, the_portal, run_id, 400, credential_error=str(exc))
    return RedirectResponse(f"/credentials/{issued.id}", status_code=303)


@router.get("/candidate/credential.json")
def candidate_download(
    who: Annotated[CandidateContext, Depends(candidate)], the_portal: ThePortal
) -> Response:
    found = the_portal.credentials.of_invitation(who.invitation_id)
    if not found:
        raise CredentialError("no credential has been issued for your run yet")
    return _download(found[-1].document, "prodproven-credential.json")
