"""Assessors' pages of re-certification campaigns (docs/teams.md#the-campaign-page):
``/campaigns`` lists the firm's campaigns with their progress counts and creates one from a
form; ``/campaigns/{name}`` shows each member's progress, the campaign's email in the outbox and
closes it. Every POST checks the session's CSRF secret; what the portal or the form refuses (a
name taken, an unknown team, a number out of range) is shown on the page with a 400. Another
firm's campaign is "not found" (404)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from starlette.datastructures import FormData

from prodproven.runner.errors import ProdprovenError
from prodproven.runner.people.campaigns import (
    MAX_CADENCE_MONTHS,
    MAX_DAYS,
    PROGRESS_STATES,
    Campaign,
    CampaignSpec,
)
from prodproven.runner.portal.core import Portal
from prodproven.runner.runs.store import utcnow
from prodproven.runner.web.auth import AssessorContext, assessor, checked_form, portal
from prodproven.runner.web.inputs import optional_number
from prodproven.runner.web.responses import page
from prodproven.sandbox.untrusted import UntrustedInput

router = APIRouter(include_in_schema=False)
Who = Annotated[AssessorContext, Depends(assessor)]
ThePortal = Annotated[Portal, Depends(portal)]
FIELDS = ("name", "team", "people", "challenge", "competency", "cadence_months", "opens",
          "window_days", "remind_days", "lapse_remind_days")  # fmt: skip
"""The create form's fields, refilled with what was typed when the form is refused."""


def _path(name: str) -> str:
    return f"/campaigns/{quote(name, safe='')}"


# --- the list and the form -------------------------------------------------------------------


@router.get("/campaigns")
def campaigns(request: Request, who: Who, the_portal: ThePortal) -> Response:
    return _campaigns_page(request, who, the_portal)


def _campaigns_page(
    request: Request,
    who: AssessorContext,
    the_portal: Portal,
    status_code: int = 200,
    error: str = "",
    typed: dict[str, str] | None = None,
) -> Response:
    """The list, and the form (refilled with what was ``typed`` when it was refused)."""
    found = the_portal.campaigns.campaigns(who.actor)
    counts = {
        c.spec.name: the_portal.campaigns.progress(who.actor, c.spec.name).counts for c in found
    }
    measured = {g.competency.value for c in the_portal.catalogue.all() for g in c.spec.graders}
    return page(
        request,
        "campaigns.html",
        status_code=status_code,
        csrf=who.session.csrf,
        user=who,
        campaigns=found,
        counts=counts,
        states=PROGRESS_STATES,
        next_deadline={c.spec.name: next_deadline(c, utcnow()) for c in found},
        teams=[t.name for t in the_portal.teams.teams(who.actor)],
        challenges=sorted({c.spec.id for c in the_portal.catalogue.all()}),
        competencies=sorted(measured),
        typed={f: "" for f in FIELDS} | (typed or _blank()),
        error=error,
    )


def _blank() -> dict[str, str]:
    """A new form's values: opening today, a window of two weeks."""
    return {"opens": utcnow().date().isoformat(), "window_days": "14"}


def next_deadline(campaign: Campaign, now: datetime) -> datetime | None:
    """The deadline of the cycle open at ``now``, else of the next to open; None for a closed
    campaign or a one-off whose deadline passed."""
    spec = campaign.spec
    if campaign.closed_at is not None:
        return None
    cycle = 0
    while spec.cadence_months is not None and spec.deadline(cycle) <= now:
        cycle += 1
    return spec.deadline(cycle) if spec.deadline(cycle) > now else None


@router.post("/campaigns")
async def create(request: Request, who: Who, the_portal: ThePortal) -> Response:
    form = await checked_form(request, who.session)
    typed = {key: str(form.get(key, "")) for key in FIELDS}
    try:
        spec = spec_of(form)
        the_portal.campaigns.create(who.actor, spec)
    except ProdprovenError as exc:
        return _campaigns_page(request, who, the_portal, 400, str(exc), typed)
    return RedirectResponse(_path(spec.name), status_code=303)


def spec_of(form: FormData) -> CampaignSpec:
    """The campaign the form asks for: a team or comma-separated people, a challenge or a
    competency, every N months (blank: once) from the opening date (00:00 UTC). Raises
    UntrustedInput (a number or date mistyped), CampaignError (see CampaignSpec)."""

    def text(field: str) -> str | None:
        return str(form.get(field, "")).strip() or None

    people = tuple(p.strip() for p in str(form.get("people", "")).split(",") if p.strip())
    return CampaignSpec(
        name=str(form.get("name", "")),
        opens_at=_opening(text("opens") or ""),
        window_days=_whole(form, "window_days", "the window", MAX_DAYS) or 0,
        team=text("team"),
        people=people,
        challenge=text("challenge"),
        competency=text("competency"),
        cadence_months=_whole(form, "cadence_months", "the cadence", MAX_CADENCE_MONTHS),
        remind_days=_whole(form, "remind_days", "the reminder", MAX_DAYS),
        lapse_remind_days=_whole(form, "lapse_remind_days", "the lapse reminder", MAX_DAYS),
    )


def _whole(form: FormData, field: str, what: str, high: int) -> int | None:
    """A whole number of days or months from 1 to ``high``; None for a blank field. Raises
    UntrustedInput."""
    raw = str(form.get(field, ""))
    value = optional_number(raw, what=f"{what} ({field})", low=1, high=high)
    if value is not None and not value.is_integer():
        raise UntrustedInput(f"{what} ({field}) must be a whole number, not {raw.strip()[:40]!r}")
    return None if value is None else int(value)


def _opening(raw: str) -> datetime:
    """The start (00:00 UTC) of the date ``raw`` (YYYY-MM-DD). Raises UntrustedInput."""
    try:
        return datetime.combine(date.fromisoformat(raw), time(), UTC)
    except ValueError:
        raise UntrustedInput(f"the opening date must be YYYY-MM-DD, not {raw[:40]!r}") from None


# --- one campaign ----------------------------------------------------------------------------


@router.get("/campaigns/{name}")
def campaign(request: Request, name: str, who: Who, the_portal: ThePortal) -> Response:
    """Its members' progress and its email; another firm's campaign, or none, is a 404."""
    progress = the_portal.campaigns.progress(who.actor, name)
    messages = [m for m in the_portal.outbox.messages(who.actor) if m.ref == progress.campaign.id]
    return page(
        request,
        "campaign.html",
        csrf=who.session.csrf,
        user=who,
        progress=progress,
        spec=progress.campaign.spec,
        states=PROGRESS_STATES,
        next_deadline=next_deadline(progress.campaign, utcnow()),
        messages=messages,
        path=_path(name),
    )


@router.post("/campaigns/{name}/close")
async def close(request: Request, name: str, who: Who, the_portal: ThePortal) -> Response:
    await checked_form(request, who.session)
    the_portal.campaigns.close(who.actor, name)
    return RedirectResponse(_path(name), status_code=303)
