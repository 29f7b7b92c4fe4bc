"""Assessors' pages of teams, skill gaps and role profiles (docs/teams.md#the-team-page):
``/teams`` and ``/teams/{name}`` (the heatmap, coverage, trend and members), a person's gaps
``/candidates/{name}/gaps``, and ``/roles``. Every POST checks the session's CSRF secret; what
the portal refuses (a bad name, an unknown profile) is shown on the page with a 400."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

import yaml
from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response

from prodproven.runner.errors import CandidateNotFound, ProdprovenError
from prodproven.runner.people.track_record import INTERVAL_NOTE
from prodproven.runner.portal.core import Portal
from prodproven.runner.present import team_plots
from prodproven.runner.spec.framework import RoleProfile, parsed
from prodproven.runner.web.auth import AssessorContext, assessor, checked_form, portal
from prodproven.runner.web.inputs import attachment
from prodproven.runner.web.responses import page

router = APIRouter(include_in_schema=False)
Who = Annotated[AssessorContext, Depends(assessor)]
ThePortal = Annotated[Portal, Depends(portal)]
LEVEL_FIELD = "level-"
"""A role profile form's field of one competency's required level: ``level-<competency>``."""


def _page(
    request: Request, template: str, who: AssessorContext, status_code: int = 200, **context: object
) -> Response:
    return page(
        request, template, status_code=status_code, csrf=who.session.csrf, user=who, **context
    )


def _back(path: str) -> Response:
    return RedirectResponse(path, status_code=303)


def _team_path(name: str) -> str:
    return f"/teams/{quote(name, safe='')}"


# --- teams -----------------------------------------------------------------------------------


@router.get("/teams")
def teams(request: Request, who: Who, the_portal: ThePortal) -> Response:
    return _teams_page(request, who, the_portal)


def _teams_page(
    request: Request,
    who: AssessorContext,
    the_portal: Portal,
    status_code: int = 200,
    error: str = "",
) -> Response:
    return _page(
        request,
        "teams.html",
        who,
        status_code,
        teams=the_portal.teams.teams(who.actor),
        profiles=the_portal.frameworks.profiles(who.actor),
        error=error,
    )


@router.post("/teams")
async def create_team(request: Request, who: Who, the_portal: ThePortal) -> Response:
    form = await checked_form(request, who.session)
    name = str(form.get("name", ""))
    roles = [str(r) for r in form.getlist("role_profiles")]
    try:
        the_portal.teams.save(who.actor, name, roles, str(form.get("description", "")))
    except ProdprovenError as exc:
        return _teams_page(request, who, the_portal, 400, str(exc))
    return _back(_team_path(name))


@router.get("/teams/{name}")
def team(request: Request, name: str, who: Who, the_portal: ThePortal) -> Response:
    return _team_page(request, who, the_portal, name)


def _team_page(
    request: Request,
    who: AssessorContext,
    the_portal: Portal,
    name: str,
    status_code: int = 200,
    error: str = "",
) -> Response:
    grid, trend = the_portal.teams.dashboard(who.actor, name)
    first_role = grid.team.role_profiles[0] if grid.team.role_profiles else ""
    return _page(
        request,
        "team.html",
        who,
        status_code,
        grid=grid,
        coverage=the_portal.teams.coverage(who.actor, grid),
        trend=team_plots.trend_chart(trend.quarters, trend.values),
        quarters=trend.quarters,
        shade=team_plots.shade,
        legend=team_plots.legend(),
        path=_team_path(name),
        first_role=first_role,
        interval_note=INTERVAL_NOTE,
        error=error,
    )


@router.post("/teams/{name}/members")
async def add_members(request: Request, name: str, who: Who, the_portal: ThePortal) -> Response:
    """Add the candidates named in ``names``, one per line."""
    form = await checked_form(request, who.session)
    names = [n.strip() for n in str(form.get("names", "")).splitlines() if n.strip()]
    try:
        if not names:
            raise CandidateNotFound("name at least one candidate to add, one per line")
        the_portal.teams.add(who.actor, name, names)
    except CandidateNotFound as exc:
        return _team_page(request, who, the_portal, name, 400, str(exc))
    return _back(_team_path(name))


@router.post("/teams/{name}/members/remove")
async def remove_member(request: Request, name: str, who: Who, the_portal: ThePortal) -> Response:
    form = await checked_form(request, who.session)
    the_portal.teams.remove(who.actor, name, [str(form.get("member", ""))])
    return _back(_team_path(name))


@router.get("/teams/{name}/export.csv")
def export(name: str, who: Who, the_portal: ThePortal) -> Response:
    """The standings as CSV, as ``/api/teams/{name}/export.csv`` gives scripts."""
    text = the_portal.teams.grid(who.actor, name).csv()
    headers = {"Content-Disposition": attachment(f"{name}.csv")}
    return Response(text, media_type="text/csv; charset=utf-8", headers=headers)


# --- a person's gaps -------------------------------------------------------------------------


@router.get("/candidates/{name}/gaps")
def gaps(request: Request, name: str, who: Who, the_portal: ThePortal, role: str = "") -> Response:
    """The gaps against ``role``, by default the firm's first role profile."""
    profiles = the_portal.frameworks.profiles(who.actor)
    chosen = role or (profiles[0].name if profiles else "")
    found = the_portal.teams.gaps(who.actor, name, chosen) if chosen else None
    return _page(
        request, "gaps.html", who, name=name, profiles=profiles, chosen=chosen, found=found
    )


# --- role profiles ---------------------------------------------------------------------------


@router.get("/roles")
def roles(
    request: Request, who: Who, the_portal: ThePortal, framework: str = "", edit: str = ""
) -> Response:
    """The firm's role profiles; the form edits ``edit``, or makes one of ``framework``."""
    editing = the_portal.frameworks.profile(who.actor, edit) if edit else None
    chosen = editing.framework if editing else framework or "builtin"
    return _roles_page(request, who, the_portal, chosen, editing)


def _roles_page(
    request: Request,
    who: AssessorContext,
    the_portal: Portal,
    framework: str,
    editing: RoleProfile | None,
    status_code: int = 200,
    error: str = "",
) -> Response:
    profiles = the_portal.frameworks.profiles(who.actor)
    return _page(
        request,
        "roles.html",
        who,
        status_code,
        profiles=profiles,
        yaml_of={p.name: _yaml(p) for p in profiles},
        frameworks=the_portal.frameworks.frameworks(who.actor),
        framework=the_portal.frameworks.framework(who.actor, framework),
        editing=editing,
        level_field=LEVEL_FIELD,
        error=error,
    )


def _yaml(profile: RoleProfile) -> str:
    """The profile as ``prodproven role show`` prints it, which ``role apply`` takes back."""
    return str(yaml.safe_dump(profile.model_dump(mode="json"), sort_keys=False))


@router.post("/roles")
async def save_role(request: Request, who: Who, the_portal: ThePortal) -> Response:
    """Save the profile of the form: a required level (1-5) per competency, blank for none."""
    form = await checked_form(request, who.session)
    framework = str(form.get("framework", "")) or "builtin"
    requires = {
        str(key).removeprefix(LEVEL_FIELD): str(value)
        for key, value in form.multi_items()
        if str(key).startswith(LEVEL_FIELD) and str(value).strip()
    }
    data = {
        "name": str(form.get("name", "")),
        "framework": framework,
        "description": str(form.get("description", "")),
        "requires": requires,
    }
    try:
        profile = parsed(RoleProfile, data, "from the form")
        the_portal.frameworks.save_profile(who.actor, profile)
    except ProdprovenError as exc:
        return _roles_page(request, who, the_portal, framework, None, 400, str(exc))
    return _back("/roles")


@router.post("/roles/{name}/delete")
async def delete_role(request: Request, name: str, who: Who, the_portal: ThePortal) -> Response:
    await checked_form(request, who.session)
    the_portal.frameworks.delete_profile(who.actor, name)
    return _back("/roles")
