"""Re-certification campaigns as the portal hands them out (docs/teams.md#re-certification-
campaigns): an assessor reads their firm's campaigns and their progress (``read`` scope) and
creates or closes them (``review`` scope); the operator at the CLI names the firm. Another
firm's campaign is "not found".

:meth:`CampaignDesk.run_due` does the work that is due, for every firm: it opens each cycle
(writing its members' steps) and does each due step (an invitation with its email, or a
reminder). It is called by the supervisor's due-work loop (and ``prodproven campaign tick``),
never by a web request.
"""

from __future__ import annotations

import logging
import secrets
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from prodproven.runner.errors import ChallengeNotFound, InvitationError, RunNotFound
from prodproven.runner.people.campaigns import (
    PROGRESS_STATES,
    Campaign,
    CampaignError,
    Campaigns,
    CampaignSpec,
    InviteOrder,
    Mail,
    Step,
    Work,
    progress_state,
)
from prodproven.runner.people.invitations import Invitation
from prodproven.runner.people.mail import SmtpSender
from prodproven.runner.people.outbox import Outbox
from prodproven.runner.people.teams import TeamNotFound
from prodproven.runner.portal.access import Access, Actor, Records
from prodproven.runner.portal.catalogue import Catalogue
from prodproven.runner.portal.frameworks import FrameworkDesk
from prodproven.runner.portal.teams import TeamDesk
from prodproven.runner.runs.retention import Retention
from prodproven.runner.runs.store import Run, Status, utcnow
from prodproven.runner.spec.challenge import Challenge
from prodproven.runner.spec.prepare import MAX_VARIANT

MIN_LIFETIME = timedelta(minutes=5)
"""The shortest invitation a step makes (``Invitations.create``'s least): closer to the
deadline a member is not invited."""

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class MemberProgress:
    """One member in one cycle."""

    candidate: str
    cycle: int
    state: str
    """One of PROGRESS_STATES."""
    invited_at: datetime | None
    deadline: datetime
    challenge: str | None
    run_id: str | None
    score: float | None
    note: str | None
    """Why a member was not invited (no email address, ...)."""


@dataclass(frozen=True)
class Progress:
    campaign: Campaign
    members: list[MemberProgress]
    """Newest cycle first, then by name."""
    counts: dict[str, int]
    """Members of the newest cycle per state (every state of PROGRESS_STATES)."""


class CampaignDesk:
    """A firm's campaigns, their progress, and the due work of every firm's."""

    def __init__(
        self, records: Records, access: Access, catalogue: Catalogue, teams: TeamDesk
    ) -> None:
        self._records = records
        self._access = access
        self._catalogue = catalogue
        self._teams = teams
        self._firms = FrameworkDesk(records)
        self._store = Campaigns(records.store)

    def campaigns(self, actor: Actor, firm: str | None = None) -> list[Campaign]:
        actor.require("read")
        return self._store.all(self._firms.firm(actor, firm))

    def campaign(self, actor: Actor, name: str, firm: str | None = None) -> Campaign:
        """Raises CampaignNotFound."""
        actor.require("read")
        return self._store.get(self._firms.firm(actor, firm), name)

    def create(self, actor: Actor, spec: CampaignSpec, firm: str | None = None) -> Campaign:
        """Raises CampaignError (a name taken, a competency no installed challenge measures),
        TeamNotFound, CandidateNotFound (a person the firm does not know), ChallengeNotFound."""
        actor.require("review")
        where = self._firms.firm(actor, firm)
        if spec.team is not None:
            self._teams.team(actor, spec.team, where)
        people = [self._teams.known(actor, where, p).id for p in spec.people]
        if spec.challenge is not None:
            self._catalogue.find_id(spec.challenge)
        elif not self._teams.measures().get(spec.competency or ""):
            raise CampaignError(
                f"campaign {spec.name!r}: no installed challenge measures {spec.competency!r}"
            )
        made = self._store.create(where, spec, people, actor.label)
        self._access.record(actor.label, "campaign.create", where, {"campaign": spec.name})
        return made

    def close(self, actor: Actor, name: str, firm: str | None = None) -> Campaign:
        """Stop it: no cycle opens and no step is done after. Raises CampaignNotFound."""
        actor.require("review")
        where = self._firms.firm(actor, firm)
        closed = self._store.close(where, name)
        self._access.record(actor.label, "campaign.close", where, {"campaign": name})
        return closed

    def progress(self, actor: Actor, name: str, firm: str | None = None) -> Progress:
        """Each member's state per cycle opened (before the first: the members as they are,
        ``scheduled`` for cycle 0). Raises CampaignNotFound."""
        campaign = self.campaign(actor, name, firm)
        now = utcnow()
        invitations = {i.id: i for i in self._records.invitations.list(campaign.firm)}
        invites = [s for s in self._store.steps(campaign.id) if s.kind == "invite"]
        members = [
            self._member(campaign, s, invitations.get(s.invitation_id or ""), now)
            for s in sorted(invites, key=lambda s: (-s.cycle, s.candidate))
        ]
        if not invites:
            deadline = campaign.spec.deadline(0)
            members = [
                MemberProgress(name, 0, "scheduled", None, deadline, None, None, None, None)
                for name in sorted(self._members(campaign))
            ]
        newest = [m.state for m in members if m.cycle == members[0].cycle] if members else []
        counts = Counter(newest)
        return Progress(campaign, members, {state: counts[state] for state in PROGRESS_STATES})

    def due_work(self) -> list[Callable[[], object]]:
        """What the due-work loop does (runner/lifecycle/dueloop.py ``DueLoop``): this
        desk's :meth:`run_due`, then sending the outbox's due email (so a step's email goes out
        in the same pass), then, hourly, expiring the work-process evidence past
        ``evidence_retention_days`` (runner/runs/retention.py)."""
        settings = self._records.settings
        store = self._records.store
        return [
            self.run_due,
            Outbox(store, SmtpSender.from_settings(settings)).deliver_due,
            Retention(store, settings.data_dir, settings.evidence_retention_days).due,
        ]

    def run_due(self, now: datetime | None = None) -> list[str]:
        """Open every campaign's cycle that is due (its members' steps written), then do every
        due step of every firm; what was done, a line each. A step that cannot be done for
        good (no email address, a challenge no longer installed) is done with a note; any
        other failure is raised, and the step is done again once its claim runs out."""
        now = now or utcnow()
        campaigns = {c.id: c for c in self._store.all(open_only=True)}
        done = [line for c in campaigns.values() for line in self._open(c, now)]
        for step in self._store.due(now):
            campaign = campaigns.get(step.campaign_id)
            claimed = self._store.claim(step.id, now) if campaign is not None else None
            if campaign is not None and claimed is not None:
                done.extend(self._do(campaign, claimed, now))
        return done

    # opening a cycle -----------------------------------------------------------------------
    def _open(self, campaign: Campaign, now: datetime) -> list[str]:
        cycle = campaign.spec.current_cycle(now)
        if cycle is None or cycle <= campaign.cycle:
            return []
        members = {}
        try:
            for name in self._members(campaign):
                candidate = self._records.candidates.get(name)
                members[candidate.id] = campaign.spec.steps(cycle, self._lapses(campaign, name))
        except (CampaignError, ChallengeNotFound, TeamNotFound) as exc:  # tried again next pass
            log.warning("campaign %s: cycle %s cannot open: %s", campaign.spec.name, cycle, exc)
            return [f"campaign {campaign.spec.name}: cycle {cycle} cannot open: {exc}"]
        if not self._store.open_cycle(campaign, cycle, members):
            return []
        return [f"campaign {campaign.spec.name}: cycle {cycle} opened, {len(members)} members"]

    def _members(self, campaign: Campaign) -> list[str]:
        """Who the campaign is for now: its team's members, or its people."""
        spec = campaign.spec
        if spec.team is None:
            return list(spec.people)
        return self._teams.team(_system(campaign), spec.team, campaign.firm).members

    def _lapses(self, campaign: Campaign, name: str) -> datetime | None:
        """When ``name``'s evidence in the campaign's competencies (the challenge's graders')
        first lapses; None when never measured."""
        wanted = self._competencies(campaign)
        standings = self._teams.standings(campaign.firm, name)
        found = [s.lapsed_at for c, s in standings.items() if c in wanted and s.lapsed_at]
        return min(found, default=None)

    def _competencies(self, campaign: Campaign) -> set[str]:
        spec = campaign.spec
        if spec.challenge is None:
            return {spec.competency or ""}
        graders = self._catalogue.find_id(spec.challenge).spec.graders
        return {g.competency.value for g in graders}

    # doing a step ------------------------------------------------------------------------
    def _do(self, campaign: Campaign, step: Step, now: datetime) -> list[str]:
        where = f"campaign {campaign.spec.name}: {step.kind} {step.candidate} (cycle {step.cycle})"
        work = Work()
        try:
            invite = step.kind == "invite"
            work = (
                self._invite(campaign, step, now) if invite else self._remind(campaign, step, now)
            )
            done = self._store.complete(step, work)
        except (CampaignError, ChallengeNotFound, InvitationError, ValueError) as exc:
            log.warning("%s failed: %s", where, exc)
            done = self._store.complete(step, Work(note=f"failed: {exc}"[:200]))
        if done is None:
            return []  # another process took the step over
        if work.invite is not None and done.invitation_id is not None:
            self._access.record(
                f"campaign:{campaign.spec.name}", "invitation.created", done.invitation_id,
                {"challenge": work.invite.challenge_id, "candidate": work.invite.candidate_email},
            )  # fmt: skip
        return [f"{where}: {done.note or 'queued'}"]

    def _invite(self, campaign: Campaign, step: Step, now: datetime) -> Work:
        settings = self._records.settings
        email = self._email(campaign.firm, step.candidate)
        deadline = campaign.spec.deadline(step.cycle)
        lifetime = min(timedelta(days=settings.invitation_days), deadline - now)
        if email is None:
            return Work(note="no email address")
        if lifetime < MIN_LIFETIME:
            return Work(note="the window closed")
        challenge = self._challenge(campaign, step.candidate)
        order = InviteOrder(
            campaign.firm, challenge.spec.id, step.candidate, email,
            f"campaign:{campaign.spec.name}", lifetime,
            _fresh_variant(self._variants(step.candidate, challenge.spec.id)),
        )  # fmt: skip
        text = (
            f"Hello {step.candidate},\n\n{campaign.firm} asks you to take the challenge "
            f"{challenge.spec.title!r} again, to keep your record current, by "
            f"{deadline:%Y-%m-%d %H:%M} UTC. Your personal link (single use, valid until "
            f"{now + lifetime:%Y-%m-%d %H:%M} UTC):\n\n{{link}}\n"
        )
        subject = f"Re-certification: {challenge.spec.title} by {deadline:%Y-%m-%d}"
        mail = Mail(email, subject, text, "campaign.invitation")
        return Work(order, mail, link=f"{settings.base_url}/i/")

    def _remind(self, campaign: Campaign, step: Step, now: datetime) -> Work:
        invitation = self._invitation(campaign, step)
        deadline = campaign.spec.deadline(step.cycle)
        if invitation is None:
            return Work(note="not invited")
        if self._passed(invitation):
            return Work(note="passed")
        lapses = step.due_at + timedelta(days=campaign.spec.lapse_remind_days or 0)
        if step.kind == "remind_deadline" and now >= deadline:
            return Work(note="the deadline passed")
        if step.kind == "remind_lapse" and now >= lapses:
            return Work(note="the evidence lapsed already")
        sent = f"the invitation sent on {invitation.created_at:%Y-%m-%d}"
        if step.kind == "remind_deadline":
            subject = f"Reminder: re-certification due by {deadline:%Y-%m-%d}"
            why = f"is due by {deadline:%Y-%m-%d %H:%M} UTC"
            kind = "campaign.reminder"
        else:
            subject = f"Your evidence lapses on {lapses:%Y-%m-%d}"
            why = f"keeps your evidence from lapsing on {lapses:%Y-%m-%d}"
            kind = "campaign.lapse_reminder"
        text = (
            f"Hello {step.candidate},\n\ntaking the challenge {invitation.challenge_id!r} for "
            f"{campaign.firm} {why}. Use the link of {sent}; it is valid until "
            f"{invitation.expires_at:%Y-%m-%d %H:%M} UTC.\n"
        )
        return Work(mail=Mail(invitation.candidate_email, subject, text, kind))

    # what the steps need to know -------------------------------------------------------------
    def _email(self, firm: str, name: str) -> str | None:
        """The person's address: their profile's, else the newest the firm invited them at."""
        person = self._records.candidates.get(name)
        invited = [i for i in self._records.invitations.list(firm) if i.candidate_name == name]
        return person.email or next((i.candidate_email for i in invited), None)

    def _challenge(self, campaign: Campaign, name: str) -> Challenge:
        """The campaign's challenge; for a competency the first (by id) of those measuring it
        that is not the one the person took most recently, if there is such. Raises
        ChallengeNotFound, CampaignError when none measures it any more."""
        spec = campaign.spec
        if spec.challenge is not None:
            return self._catalogue.find_id(spec.challenge)
        options = sorted(self._teams.measures().get(spec.competency or "", []))
        taken = [r.challenge_id for r in self._records.candidates.runs(name)]
        recent = next((c for c in reversed(taken) if c in options), None)
        chosen = next(iter([c for c in options if c != recent] or options), None)
        if chosen is None:
            raise CampaignError(f"no installed challenge measures {spec.competency!r}")
        return self._catalogue.find_id(chosen)

    def _variants(self, name: str, challenge_id: str) -> set[int]:
        """The variants of ``challenge_id`` the person had: in runs and in invitations."""
        had = [
            (r.candidate, r.challenge_id, r.variant) for r in self._records.candidates.runs(name)
        ]
        had += [
            (i.candidate_name, i.challenge_id, i.variant) for i in self._records.invitations.list()
        ]
        return {v for who, c, v in had if who == name and c == challenge_id and v is not None}

    def _invitation(self, campaign: Campaign, step: Step) -> Invitation | None:
        """The invitation the member's invite step of the same cycle made, if any."""
        made = next(
            (
                s.invitation_id
                for s in self._store.steps(campaign.id)
                if s.kind == "invite" and s.candidate_id == step.candidate_id
                and s.cycle == step.cycle and s.invitation_id
            ),
            None,
        )  # fmt: skip
        return self._records.invitations.get(made) if made else None

    def _run(self, invitation: Invitation | None) -> Run | None:
        if invitation is None or invitation.run_id is None:
            return None
        try:
            return self._records.store.get(invitation.run_id)
        except RunNotFound:
            return None

    def _passed(self, invitation: Invitation) -> bool:
        run = self._run(invitation)
        graded = run is not None and run.status is Status.graded
        return graded and run is not None and bool((run.result or {}).get("passed"))

    def _member(
        self, campaign: Campaign, step: Step, invitation: Invitation | None, now: datetime
    ) -> MemberProgress:
        run = self._run(invitation)
        deadline = campaign.spec.deadline(step.cycle)
        passed = invitation is not None and self._passed(invitation)
        status = None if run is None else run.status.value
        state = progress_state(now, deadline, invitation is not None, status, passed)
        return MemberProgress(
            step.candidate, step.cycle, state,
            invitation.created_at if invitation else None, deadline,
            invitation.challenge_id if invitation else None,
            run.id if run else None, run.score if run else None, step.note,
        )  # fmt: skip


def _system(campaign: Campaign) -> Actor:
    """Who reads a campaign's team when it does its due work."""
    return Actor(f"campaign:{campaign.spec.name}", campaign.firm, ("read",))


def _fresh_variant(used: set[int]) -> int:
    """A random variant not in ``used`` (those the person already had)."""
    while True:
        variant = secrets.randbelow(MAX_VARIANT + 1)
        if variant not in used:
            return variant
