"""The JSON API's re-certification campaigns, ``/api/campaigns``
(docs/teams.md#re-certification-campaigns), with the rules of the rest of the API
(runner/web/api.py): a bearer token, ``read`` to read, ``review`` to create and close, and only
the token's firm's, another firm's campaign being "not found"."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter
from pydantic import BaseModel, Field

from prodproven.runner.people.campaigns import (
    MAX_CADENCE_MONTHS,
    MAX_DAYS,
    MAX_NAME,
    Campaign,
    CampaignSpec,
)
from prodproven.runner.portal.campaigns import Progress
from prodproven.runner.web.api import Caller, ThePortal

router = APIRouter(prefix="/api", tags=["api"])

Days = Annotated[int, Field(ge=1, le=MAX_DAYS)]


class CampaignBody(BaseModel):
    """A new campaign: of a team or of people, for a challenge or a competency, every N months
    or once (``cadence_months`` null)."""

    model_config = {"extra": "forbid"}

    name: str = Field(min_length=1, max_length=MAX_NAME)
    team: str | None = Field(None, min_length=1, max_length=MAX_NAME)
    people: list[Annotated[str, Field(min_length=1, max_length=200)]] = Field(
        default_factory=list, max_length=500, description="candidate names"
    )
    challenge: str | None = Field(None, min_length=1, max_length=64)
    competency: str | None = Field(None, min_length=1, max_length=200)
    cadence_months: int | None = Field(None, ge=1, le=MAX_CADENCE_MONTHS)
    opens_at: datetime = Field(description="when the first cycle opens (with a time zone)")
    window_days: Days = Field(description="days from a cycle's opening to its deadline")
    remind_days: Days | None = Field(None, description="remind this many days before it")
    lapse_remind_days: Days | None = Field(
        None, description="remind this many days before a member's evidence lapses"
    )

    def spec(self) -> CampaignSpec:
        """Raises CampaignError."""
        return CampaignSpec(**{**self.model_dump(), "people": tuple(self.people)})


@router.get("/campaigns")
def campaigns(actor: Caller, the_portal: ThePortal) -> list[Campaign]:
    """The firm's campaigns by name."""
    return the_portal.campaigns.campaigns(actor)


@router.post("/campaigns", status_code=201)
def create(body: CampaignBody, actor: Caller, the_portal: ThePortal) -> Campaign:
    """Create a campaign; its cycles open and its steps are done by the due-work loop."""
    return the_portal.campaigns.create(actor, body.spec())


@router.get("/campaigns/{name}")
def campaign(name: str, actor: Caller, the_portal: ThePortal) -> Progress:
    """The campaign and each member's progress per cycle, with counts per state."""
    return the_portal.campaigns.progress(actor, name)


@router.post("/campaigns/{name}/close")
def close(name: str, actor: Caller, the_portal: ThePortal) -> Campaign:
    """No cycle opens and no step is done after this; its progress stays readable."""
    return the_portal.campaigns.close(actor, name)
