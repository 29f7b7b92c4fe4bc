"""The JSON API under /api/, for firms' hiring systems. Documented at /openapi.json.

Every route needs ``Authorization: Bearer <token>``; a request without valid credentials gets
401, a token without the route's scope 403. A token sees only its firm's runs and invitations.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, Field

from prodproven.runner.grading.result import RunResult, status_document
from prodproven.runner.people.invitations import (
    MAX_EMAIL,
    MAX_EXTRA_MINUTES,
    MAX_EXTRA_PERCENT,
    MAX_LIFETIME,
    MAX_NAME,
    Accommodation,
    Invitation,
)
from prodproven.runner.people.reviews import MAX_TEXT, MIN_REASON, Review
from prodproven.runner.portal.access import Actor
from prodproven.runner.portal.core import Portal
from prodproven.runner.portal.runs import SORTS, RunFilter, RunSummary
from prodproven.runner.spec.model import CHALLENGE_ID
from prodproven.runner.spec.prepare import MAX_VARIANT
from prodproven.runner.web.auth import api_actor, portal

PAGE = 100
"""Items in one answer of a list route unless ``limit`` says otherwise."""
MAX_PAGE = 1000
"""The most items one answer of a list route holds."""
_bearer = HTTPBearer(auto_error=False, description="An API token of an assessor")


def _actor(
    actor: Annotated[Actor, Depends(api_actor)],
    _: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)] = None,
) -> Actor:
    return actor


router = APIRouter(prefix="/api", tags=["api"])
Caller = Annotated[Actor, Depends(_actor)]
ThePortal = Annotated[Portal, Depends(portal)]


class Me(BaseModel):
    email: str
    firm: str
    scopes: list[str]


class ChallengeOut(BaseModel):
    id: str
    title: str
    version: str
    time_limit_minutes: float
    competencies: list[str]


class InvitationIn(BaseModel):
    challenge: str = Field(
        description="Challenge id, as in GET /api/challenges", pattern=CHALLENGE_ID
    )
    candidate_name: str = Field(min_length=1, max_length=MAX_NAME)
    candidate_email: str = Field(min_length=3, max_length=MAX_EMAIL)
    days: float | None = Field(
        None,
        gt=0,
        le=MAX_LIFETIME.days,
        allow_inf_nan=False,
        description="Lifetime of the link; default from settings",
    )
    variant: int | None = Field(
        None, ge=0, le=MAX_VARIANT, description="Seed of the generated material; default random"
    )
    extra_minutes: int = Field(
        0, ge=0, le=MAX_EXTRA_MINUTES, description="Extra time granted, in minutes"
    )
    extra_percent: int = Field(
        0,
        ge=0,
        le=MAX_EXTRA_PERCENT,
        description="Extra time granted, as a percentage of the time limit (not with "
        "extra_minutes)",
    )


class InvitationOut(BaseModel):
    id: str
    challenge: str
    candidate_name: str
    candidate_email: str
    created_by: str
    created_at: datetime
    expires_at: datetime
    state: str
    run_id: str | None
    extra_minutes: int = Field(description="Extra time granted, in minutes (0: none)")
    extra_percent: int = Field(description="Extra time granted, as a percentage (0: none)")

    @classmethod
    def of(cls, invitation: Invitation) -> InvitationOut:
        return cls(
            id=invitation.id,
            challenge=invitation.challenge_id,
            candidate_name=invitation.candidate_name,
            candidate_email=invitation.candidate_email,
            created_by=invitation.created_by,
            created_at=invitation.created_at,
            expires_at=invitation.expires_at,
            state=invitation.state,
            run_id=invitation.run_id,
            extra_minutes=invitation.accommodation.minutes,
            extra_percent=invitation.accommodation.percent,
        )


class InvitationCreated(BaseModel):
    invitation: InvitationOut
    link: str = Field(description="The single-use link for the candidate; shown only once")


class RunOut(BaseModel):
    id: str
    challenge: str
    candidate: str
    status: str
    created_at: datetime
    deadline: datetime | None
    submitted_at: datetime | None
    graded_at: datetime | None
    score: float | None = Field(
        description="The score people see: the newest override's, else graded"
    )
    graded_score: float | None
    overridden: bool

    @classmethod
    def of(cls, summary: RunSummary) -> RunOut:
        run = summary.run
        return cls(
            id=run.id,
            challenge=run.challenge_id,
            candidate=run.candidate,
            status=run.status.value,
            created_at=run.created_at,
            deadline=run.deadline,
            submitted_at=run.submitted_at,
            graded_at=run.graded_at,
            score=summary.score.score,
            graded_score=summary.score.graded,
            overridden=summary.score.override is not None,
        )


class ReviewOut(BaseModel):
    id: int
    kind: Literal["note", "override"]
    author: str
    text: str
    score: float | None
    previous_score: float | None
    created_at: datetime

    @classmethod
    def of(cls, review: Review) -> ReviewOut:
        return cls.model_validate(review, from_attributes=True)


class RunDetailOut(BaseModel):
    run: RunOut
    result: RunResult = Field(description="The run's result document (docs/json-output.md)")
    reviews: list[ReviewOut]


class EventOut(BaseModel):
    at: datetime
    kind: str
    data: dict[str, Any]


class NoteIn(BaseModel):
    text: str = Field(min_length=1, max_length=MAX_TEXT)


class OverrideIn(BaseModel):
    score: float = Field(ge=0, le=100, allow_inf_nan=False)
    reason: str = Field(
        max_length=MAX_TEXT,
        description=f"Why the graded score is wrong (required, {MIN_REASON}+ characters)",
    )


Limit = Annotated[
    int, Query(ge=1, le=MAX_PAGE, description=f"at most this many items (up to {MAX_PAGE})")
]
Offset = Annotated[int, Query(ge=0, le=2**31, description="skip this many items first")]


@router.get("/me")
def me(actor: Caller) -> Me:
    return Me(email=actor.label, firm=actor.firm, scopes=list(actor.scopes))


@router.get("/challenges")
def challenges(actor: Caller, the_portal: ThePortal) -> list[ChallengeOut]:
    actor.require("read")
    return [
        ChallengeOut(
            id=c.id,
            title=c.spec.title,
            version=c.spec.version,
            time_limit_minutes=c.spec.time_limit_minutes,
            competencies=list(c.spec.competencies),
        )
        for c in the_portal.catalogue.all()
    ]


@router.get("/invitations")
def invitations(
    actor: Caller, the_portal: ThePortal, limit: Limit = PAGE, offset: Offset = 0
) -> list[InvitationOut]:
    """The firm's invitations, newest first."""
    found = the_portal.invitations.visible(actor)[offset : offset + limit]
    return [InvitationOut.of(i) for i in found]


@router.post("/invitations", status_code=201)
def invite(body: InvitationIn, actor: Caller, the_portal: ThePortal) -> InvitationCreated:
    created, link = the_portal.invitations.invite(
        actor,
        body.challenge,
        body.candidate_name,
        body.candidate_email,
        body.days,
        body.variant,
        Accommodation(body.extra_minutes, body.extra_percent),
    )
    return InvitationCreated(invitation=InvitationOut.of(created), link=link)


@router.get("/runs")
def runs(
    actor: Caller,
    the_portal: ThePortal,
    challenge: str | None = None,
    candidate: str | None = None,
    status: str | None = None,
    min_score: Annotated[float | None, Query(ge=0, le=100, allow_inf_nan=False)] = None,
    sort: str = Query("created", description=f"one of {', '.join(SORTS)}"),
    order: Literal["asc", "desc"] = "desc",
    limit: Limit = PAGE,
    offset: Offset = 0,
) -> list[RunOut]:
    query = RunFilter(challenge, candidate, status, min_score, sort, order == "desc")
    found = the_portal.runs.find(actor, query)[offset : offset + limit]
    return [RunOut.of(s) for s in found]


@router.get("/runs/{run_id}")
def run(run_id: str, actor: Caller, the_portal: ThePortal) -> RunDetailOut:
    detail = the_portal.runs.detail(actor, run_id)
    summary = RunSummary(detail.run, detail.firm, detail.score)
    return RunDetailOut(
        run=RunOut.of(summary),
        result=status_document(detail.run),
        reviews=[ReviewOut.of(r) for r in detail.reviews],
    )


@router.get("/runs/{run_id}/events")
def events(
    run_id: str, actor: Caller, the_portal: ThePortal, limit: Limit = PAGE, offset: Offset = 0
) -> list[EventOut]:
    """The run's event log, oldest first."""
    found = the_portal.runs.events(actor, run_id)[offset : offset + limit]
    return [EventOut(at=e.at, kind=e.kind, data=e.data) for e in found]


@router.post("/runs/{run_id}/notes", status_code=201)
def note(run_id: str, body: NoteIn, actor: Caller, the_portal: ThePortal) -> ReviewOut:
    return ReviewOut.of(the_portal.reviews.note(actor, run_id, body.text))


@router.post("/runs/{run_id}/overrides", status_code=201)
def override(run_id: str, body: OverrideIn, actor: Caller, the_portal: ThePortal) -> ReviewOut:
    return ReviewOut.of(the_portal.reviews.override(actor, run_id, body.score, body.reason))
