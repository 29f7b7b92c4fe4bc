"""The candidate's pager: the open alert of their run, polled by ``/static/alerts.js`` on the
candidate page and inside JupyterLab, and its Acknowledge button.

The acknowledgement is a script's POST, so it carries the session's CSRF secret in a header
(``X-CSRF-Token``, handed out by the GET) and is refused when another site made the browser
send it (``Origin``, ``Sec-Fetch-Site``), like the lab proxy's requests.
"""

from __future__ import annotations

import time
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request

from prodproven.graders.slo import Alert
from prodproven.runner.errors import CsrfFailed
from prodproven.runner.people.accounts import csrf_matches
from prodproven.runner.portal.core import Portal
from prodproven.runner.web.auth import CandidateContext, candidate, portal
from prodproven.runner.web.upstream import cross_site

router = APIRouter(include_in_schema=False)
Who = Annotated[CandidateContext, Depends(candidate)]
ThePortal = Annotated[Portal, Depends(portal)]
AlertId = Annotated[str, Path(pattern=r"^alert-[0-9]{1,9}$")]
CSRF_HEADER = "x-csrf-token"


def shown(alert: Alert | None) -> dict[str, Any] | None:
    """An alert as the page shows it; ``age_s`` counts from the server's clock, so a wrong
    clock in the browser does not change "N s ago"."""
    if alert is None:
        return None
    return {
        "id": alert.id,
        "fired_at": alert.fired_at,
        "age_s": round(max(0.0, time.time() - alert.fired_at), 1),
        "symptom": alert.symptom,
        "acknowledged_at": alert.acknowledged_at,
    }


@router.get("/candidate/alerts")
def current(who: Who, the_portal: ThePortal) -> dict[str, Any]:
    """The open alert of the candidate's running run (or null), and the CSRF secret its
    Acknowledge button sends."""
    found = the_portal.oncall.candidate_alert(who.invitation_id)
    return {"alert": shown(found), "csrf": who.session.csrf}


@router.post("/candidate/alerts/{alert_id}/ack")
def acknowledge(
    request: Request, alert_id: AlertId, who: Who, the_portal: ThePortal
) -> dict[str, Any]:
    """Acknowledge the alert. Raises CsrfFailed for a missing or wrong secret or a request
    another site made."""
    if cross_site(request, request.method) or not csrf_matches(
        who.session, request.headers.get(CSRF_HEADER)
    ):
        raise CsrfFailed()
    acked = the_portal.oncall.candidate_acknowledge(who.invitation_id, alert_id)
    return {"alert": shown(acked), "csrf": who.session.csrf}
