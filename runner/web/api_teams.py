"""The JSON API's teams and skill gaps, ``/api/teams`` and ``/api/candidates/{name}/gaps``
(docs/teams.md#teams-and-skill-gaps), with the rules of the rest of the API (runner/web/api.py):
a bearer token, ``read`` to read, ``review`` to change, and only the token's firm's, another
firm's team or candidate being "not found"."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, Field

from prodproven.runner.people.teams import MAX_NAME, MAX_TEXT, Team
from prodproven.runner.portal.teams import Gaps, TeamGrid
from prodproven.runner.web.api import Caller, ThePortal

router = APIRouter(prefix="/api", tags=["api"])


class TeamBody(BaseModel):
    """A team's settings; its members are added and removed on their own."""

    model_config = {"extra": "forbid"}

    description: str = Field("", max_length=MAX_TEXT)
    role_profiles: list[Annotated[str, Field(min_length=1, max_length=MAX_NAME)]] = Field(
        default_factory=list, max_length=100, description="names of the firm's role profiles"
    )


class Members(BaseModel):
    model_config = {"extra": "forbid"}

    names: list[Annotated[str, Field(min_length=1, max_length=200)]] = Field(
        min_length=1, max_length=500, description="candidate names"
    )


@router.get("/teams")
def teams(actor: Caller, the_portal: ThePortal) -> list[Team]:
    """The firm's teams by name."""
    return the_portal.teams.teams(actor)


@router.get("/teams/{name}")
def team(name: str, actor: Caller, the_portal: ThePortal) -> Team:
    return the_portal.teams.team(actor, name)


@router.put("/teams/{name}")
def put_team(name: str, body: TeamBody, actor: Caller, the_portal: ThePortal) -> Team:
    """Add the team, or change its description and role profiles (its members stay)."""
    return the_portal.teams.save(actor, name, body.role_profiles, body.description)


@router.delete("/teams/{name}", status_code=204)
def delete_team(name: str, actor: Caller, the_portal: ThePortal) -> Response:
    """The team and its memberships go; the candidates stay."""
    the_portal.teams.delete(actor, name)
    return Response(status_code=204)


@router.post("/teams/{name}/members")
def add_members(name: str, body: Members, actor: Caller, the_portal: ThePortal) -> Team:
    """Add candidates the firm invited or ran (members already stay)."""
    return the_portal.teams.add(actor, name, body.names)


@router.delete("/teams/{name}/members/{candidate}")
def remove_member(name: str, candidate: str, actor: Caller, the_portal: ThePortal) -> Team:
    return the_portal.teams.remove(actor, name, [candidate])


@router.get("/teams/{name}/standings")
def standings(name: str, actor: Caller, the_portal: ThePortal) -> TeamGrid:
    """Each member's current level, value, interval, lapse date and state per competency."""
    return the_portal.teams.grid(actor, name)


@router.get("/teams/{name}/export.csv", response_class=Response)
def export(name: str, actor: Caller, the_portal: ThePortal) -> Response:
    """The standings as CSV, one row per member and competency."""
    text = the_portal.teams.grid(actor, name).csv()
    return Response(text, media_type="text/csv; charset=utf-8")


@router.get("/candidates/{name}/gaps")
def gaps(
    name: str,
    actor: Caller,
    the_portal: ThePortal,
    role: Annotated[str, Query(min_length=1, max_length=MAX_NAME, description="role profile")],
) -> Gaps:
    """What the candidate lacks now for the role profile: missing, lapsed or below level,
    each with the challenges that measure it."""
    return the_portal.teams.gaps(actor, name, role)
