"""Re-certification campaigns, in the store (docs/teams.md#re-certification-campaigns): a firm
asks a team (or a list of people) to take a challenge again, every N months or once, within a
window, with reminders.

A campaign's work is a list of **steps**, one row per campaign, member, cycle and kind
(``invite``, ``remind_deadline``, ``remind_lapse``), written when the cycle opens and done when
due. "Never twice": a step is claimed by one conditional UPDATE (like the outbox's messages),
then done in one transaction that writes its invitation, queues its email in the outbox and
marks it done, guarded by the claim: a crash before the commit leaves nothing (the claim runs
out and the step is done again), a crash after leaves it done. So no step ever yields two
invitations or emails, and none is lost. Sending the queued email is the outbox's.
What a step says, and whom it invites to which challenge, is the portal's.
"""

from __future__ import annotations

import calendar
import secrets
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import JSON, Integer, String, UniqueConstraint, delete, or_, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column
from sqlalchemy.sql.elements import ColumnElement

from prodproven.runner.errors import ProdprovenError
from prodproven.runner.people.candidates import Candidate, CandidateRow
from prodproven.runner.people.invitations import Invitations
from prodproven.runner.people.outbox import Outbox
from prodproven.runner.runs.store import Base, Store, utcnow

MAX_NAME = 100
MAX_CADENCE_MONTHS = 120
MAX_DAYS = 365
MIN_MONTH_DAYS = 28
"""A cycle's window is at most this many days per month of cadence, so windows never overlap."""
LEASE = timedelta(minutes=5)
"""How long a process holds a step it claimed before another may do it."""
KINDS = ("invite", "remind_deadline", "remind_lapse")
PROGRESS_STATES = ("scheduled", "invited", "started", "graded", "passed", "overdue")


class CampaignError(ProdprovenError):
    """A campaign cannot be created or changed as asked (the message says which and why)."""


class CampaignNotFound(CampaignError):
    """The firm has no campaign of that name."""


class CampaignRow(Base):
    __tablename__ = "campaigns"
    __table_args__ = (UniqueConstraint("firm", "name"),)
    id: Mapped[str] = mapped_column(String(16), primary_key=True)
    firm: Mapped[str] = mapped_column(String(64), index=True)
    name: Mapped[str] = mapped_column(String(MAX_NAME))
    team: Mapped[str | None] = mapped_column(String(MAX_NAME))
    people: Mapped[list[str]] = mapped_column(JSON)
    """Candidate ids, for a campaign of a list of people."""
    challenge: Mapped[str | None] = mapped_column(String(64))
    competency: Mapped[str | None] = mapped_column(String(200))
    cadence_months: Mapped[int | None] = mapped_column(Integer)
    opens_at: Mapped[datetime] = mapped_column()
    window_days: Mapped[int] = mapped_column(Integer)
    remind_days: Mapped[int | None] = mapped_column(Integer)
    lapse_remind_days: Mapped[int | None] = mapped_column(Integer)
    cycle: Mapped[int] = mapped_column(Integer)
    """The newest cycle opened (its steps written); -1 before the first."""
    created_by: Mapped[str] = mapped_column(String(254))
    created_at: Mapped[datetime] = mapped_column()
    closed_at: Mapped[datetime | None] = mapped_column()


class CampaignStepRow(Base):
    __tablename__ = "campaign_steps"
    __table_args__ = (UniqueConstraint("campaign_id", "candidate_id", "cycle", "kind"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    campaign_id: Mapped[str] = mapped_column(String(16), index=True)
    candidate_id: Mapped[str] = mapped_column(String(16), index=True)
    cycle: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(16))
    due_at: Mapped[datetime] = mapped_column(index=True)
    done_at: Mapped[datetime | None] = mapped_column()
    claimed_until: Mapped[datetime | None] = mapped_column()
    claims: Mapped[int] = mapped_column(Integer)
    invitation_id: Mapped[str | None] = mapped_column(String(16))
    message_id: Mapped[int | None] = mapped_column(Integer)
    """The outbox message it queued."""
    note: Mapped[str | None] = mapped_column(String(200))
    """Why it was done without an email (passed already, no email address, ...)."""


@dataclass(frozen=True)
class CampaignSpec:
    """What a campaign asks: of a ``team`` or ``people`` (candidate names), a ``challenge`` or
    whichever challenge measures ``competency``, every ``cadence_months`` from ``opens_at``
    (None: once), each cycle due ``window_days`` after it opens, reminding ``remind_days``
    before that deadline and ``lapse_remind_days`` before a member's evidence lapses."""

    name: str
    opens_at: datetime
    window_days: int
    team: str | None = None
    people: tuple[str, ...] = ()
    challenge: str | None = None
    competency: str | None = None
    cadence_months: int | None = None
    remind_days: int | None = None
    lapse_remind_days: int | None = None

    def __post_init__(self) -> None:
        """Raises CampaignError naming the first thing wrong."""
        if not 0 < len(self.name) <= MAX_NAME or self.name != self.name.strip():
            raise CampaignError(
                f"a campaign's name is 1 to {MAX_NAME} characters without spaces at either "
                f"end, not {self.name[:MAX_NAME]!r}"
            )
        where = f"campaign {self.name!r}"
        if self.team is not None and self.people:
            raise CampaignError(f"{where}: name either a team or people, not both")
        if (self.challenge is None) == (self.competency is None):
            raise CampaignError(f"{where}: name either a challenge or a competency")
        if self.opens_at.tzinfo is None:
            raise CampaignError(f"{where}: the opening time needs a time zone")
        _within(where, "cadence_months", self.cadence_months, MAX_CADENCE_MONTHS)
        longest = MAX_DAYS if self.cadence_months is None else self.cadence_months * MIN_MONTH_DAYS
        _within(where, "window_days", self.window_days, min(longest, MAX_DAYS))
        _within(where, "remind_days", self.remind_days, self.window_days - 1)
        _within(where, "lapse_remind_days", self.lapse_remind_days, MAX_DAYS)

    # the schedule ------------------------------------------------------------------------
    def opens(self, cycle: int) -> datetime:
        """When ``cycle`` (0, 1, ...) opens: ``cadence_months`` calendar months after the one
        before, on the same day of the month (or the month's last)."""
        return add_months(self.opens_at, cycle * (self.cadence_months or 0))

    def deadline(self, cycle: int) -> datetime:
        return self.opens(cycle) + timedelta(days=self.window_days)

    def current_cycle(self, now: datetime) -> int | None:
        """The newest cycle opened by ``now`` whose window is still open (None: none is)."""
        if now < self.opens_at:
            return None
        cycle = 0
        if self.cadence_months is not None:
            cycle = (now.year - self.opens_at.year) * 12 + now.month - self.opens_at.month
            cycle = max(cycle // self.cadence_months + 1, 0)
            while self.opens(cycle) > now:
                cycle -= 1
        return cycle if now < self.deadline(cycle) else None

    def steps(self, cycle: int, lapses_at: datetime | None) -> list[tuple[str, datetime]]:
        """The steps of one member in ``cycle``, with when each is due: the invitation when
        it opens; the deadline reminder ``remind_days`` before the deadline; the lapse
        reminder ``lapse_remind_days`` before ``lapses_at`` (when the member's evidence
        lapses) if that falls after the cycle opens and before the next one does."""
        opens = self.opens(cycle)
        found = [("invite", opens)]
        if self.remind_days is not None:
            found.append(
                ("remind_deadline", self.deadline(cycle) - timedelta(days=self.remind_days))
            )
        if self.lapse_remind_days is not None and lapses_at is not None:
            due = lapses_at - timedelta(days=self.lapse_remind_days)
            ends = None if self.cadence_months is None else self.opens(cycle + 1)
            if opens < due and (ends is None or due < ends):
                found.append(("remind_lapse", due))
        return found


@dataclass(frozen=True)
class Campaign:
    id: str
    firm: str
    spec: CampaignSpec
    cycle: int
    created_by: str
    created_at: datetime
    closed_at: datetime | None


@dataclass(frozen=True)
class Step:
    id: int
    campaign_id: str
    candidate_id: str
    candidate: str
    cycle: int
    kind: str
    due_at: datetime
    done_at: datetime | None
    claims: int
    invitation_id: str | None
    message_id: int | None
    note: str | None


@dataclass(frozen=True)
class Mail:
    """An email a step queues; with an invitation, ``text`` holds ``{link}`` for its link."""

    to: str
    subject: str
    text: str
    kind: str


@dataclass(frozen=True)
class InviteOrder:
    """The invitation a step makes (the arguments of ``Invitations.create``)."""

    firm: str
    challenge_id: str
    candidate_name: str
    candidate_email: str
    created_by: str
    lifetime: timedelta
    variant: int


@dataclass(frozen=True)
class Work:
    """What doing a step writes: an invitation, an email (with an invitation, ``{link}`` in
    its text becomes ``link`` followed by the invitation's token), a note why there is none."""

    invite: InviteOrder | None = None
    mail: Mail | None = None
    note: str | None = None
    link: str = ""


def add_months(at: datetime, months: int) -> datetime:
    year, month = divmod(at.month - 1 + months, 12)
    year += at.year
    day = min(at.day, calendar.monthrange(year, month + 1)[1])
    return at.replace(year=year, month=month + 1, day=day)


def progress_state(
    now: datetime, deadline: datetime, invited: bool, run_status: str | None, passed: bool
) -> str:
    """One member's state in one cycle (one of PROGRESS_STATES): ``passed`` once the run of
    the cycle's invitation is graded and passed; else ``overdue`` from the deadline on; else
    how far they got."""
    if passed:
        return "passed"
    if now >= deadline:
        return "overdue"
    if run_status is not None:
        return "graded" if run_status == "graded" else "started"
    return "invited" if invited else "scheduled"


class _ClaimLost(Exception):
    """The step's claim ran out and another process claimed it: undo this attempt."""


class _Within(Store):
    """The store as seen from inside one open transaction: what ``Invitations`` and
    ``Outbox`` write through it commits, or rolls back, with the step."""

    def __init__(self, session: Session) -> None:  # no engine of its own
        self._open = session

    @contextmanager
    def session(self) -> Iterator[Session]:
        yield self._open
        self._open.flush()


class Campaigns:
    """Every firm's campaigns and their steps."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def create(self, firm: str, spec: CampaignSpec, people: Sequence[str], who: str) -> Campaign:
        """``people``: the candidate ids of ``spec.people``. Raises CampaignError when the firm
        has a campaign of that name, or it names neither a team nor people."""
        if spec.team is None and not people:
            raise CampaignError(f"campaign {spec.name!r}: name a team or people")
        with self.store.session() as s:
            named = CampaignRow.firm == firm, CampaignRow.name == spec.name
            if s.scalar(select(CampaignRow.id).where(*named)) is not None:
                raise CampaignError(f"there is a campaign {spec.name!r} already")
            row = CampaignRow(
                id=secrets.token_hex(6), firm=firm, name=spec.name, team=spec.team,
                people=list(people), challenge=spec.challenge, competency=spec.competency,
                cadence_months=spec.cadence_months, opens_at=spec.opens_at,
                window_days=spec.window_days, remind_days=spec.remind_days,
                lapse_remind_days=spec.lapse_remind_days, cycle=-1, created_by=who,
                created_at=utcnow(),
            )  # fmt: skip
            s.add(row)
            s.flush()
            return _campaign(s, row)

    def all(self, firm: str | None = None, *, open_only: bool = False) -> list[Campaign]:
        """The campaigns of ``firm`` (None: every firm's) by name."""
        query = select(CampaignRow).order_by(CampaignRow.firm, CampaignRow.name)
        if firm is not None:
            query = query.where(CampaignRow.firm == firm)
        if open_only:
            query = query.where(CampaignRow.closed_at.is_(None))
        with self.store.session() as s:
            return [_campaign(s, row) for row in s.scalars(query)]

    def get(self, firm: str, name: str) -> Campaign:
        """Raises CampaignNotFound."""
        with self.store.session() as s:
            return _campaign(s, _found(s, firm, name))

    def close(self, firm: str, name: str) -> Campaign:
        """No cycle opens and no step is done after this. Raises CampaignNotFound."""
        with self.store.session() as s:
            row = _found(s, firm, name)
            row.closed_at = row.closed_at or utcnow()
            return _campaign(s, row)

    def open_cycle(
        self, campaign: Campaign, cycle: int, members: dict[str, list[tuple[str, datetime]]]
    ) -> bool:
        """Write the steps of ``cycle`` (``members``: candidate id -> its steps' kinds and due
        times) unless the cycle is opened already; True when this call opened it. One
        transaction, so two processes opening it at once write its steps once."""
        with self.store.session() as s:
            opened = s.connection().execute(
                update(CampaignRow)
                .where(CampaignRow.id == campaign.id, CampaignRow.cycle < cycle)
                .values(cycle=cycle)
            )
            if opened.rowcount != 1:
                return False
            for candidate_id, steps in members.items():
                for kind, due_at in steps:
                    s.add(CampaignStepRow(campaign_id=campaign.id, candidate_id=candidate_id,
                                          cycle=cycle, kind=kind, due_at=due_at,
                                          claims=0))  # fmt: skip
            return True

    def due(self, now: datetime) -> list[Step]:
        """The steps of open campaigns due at ``now`` and not done, nor claimed by a process
        whose claim still holds; oldest due first."""
        with self.store.session() as s:
            rows = s.scalars(
                select(CampaignStepRow)
                .join(CampaignRow, CampaignRow.id == CampaignStepRow.campaign_id)
                .where(CampaignRow.closed_at.is_(None), *_claimable(now))
                .order_by(CampaignStepRow.due_at, CampaignStepRow.id)
            )
            return [_step(s, row) for row in rows]

    def claim(self, step_id: int, now: datetime) -> Step | None:
        """The step, held by this process for ``LEASE``; None when it is done, or another
        process holds it."""
        with self.store.session() as s:
            claimed = s.connection().execute(
                update(CampaignStepRow)
                .where(CampaignStepRow.id == step_id, *_claimable(now))
                .values(claimed_until=now + LEASE, claims=CampaignStepRow.claims + 1)
            )
            if claimed.rowcount != 1:
                return None
            row = s.get(CampaignStepRow, step_id, populate_existing=True)
            assert row is not None, step_id
            return _step(s, row)

    def complete(self, step: Step, work: Work) -> Step | None:
        """Do the claimed ``step``'s ``work`` and mark it done, in one transaction. None when
        its claim ran out and another process claimed it since (nothing is written then).
        Raises InvitationError, ValueError (an address the outbox refuses): nothing is
        written then either."""
        try:
            with self.store.session() as s:
                return _complete(s, step, work)
        except _ClaimLost:
            return None

    def steps(self, campaign_id: str) -> list[Step]:
        """Every step of the campaign, by cycle, member and kind."""
        with self.store.session() as s:
            rows = s.scalars(
                select(CampaignStepRow)
                .where(CampaignStepRow.campaign_id == campaign_id)
                .order_by(CampaignStepRow.cycle, CampaignStepRow.candidate_id, CampaignStepRow.id)
            )
            return [_step(s, row) for row in rows]

    def forget(self, candidate: Candidate) -> int:
        """Remove ``candidate``'s steps and their place in every campaign's list of people (a
        ``candidates.Keeper``); how many rows (steps and memberships) went."""
        with self.store.session() as s:
            gone = (
                s.connection()
                .execute(
                    delete(CampaignStepRow).where(CampaignStepRow.candidate_id == candidate.id)
                )
                .rowcount
            )
            for row in s.scalars(select(CampaignRow)):
                if candidate.id in row.people:
                    row.people = [p for p in row.people if p != candidate.id]
                    gone += 1
            return int(gone)


def _complete(s: Session, step: Step, work: Work) -> Step:
    within = _Within(s)
    invitation, token = (None, "")
    if work.invite is not None:
        invitation, token = Invitations(within).create(**vars(work.invite))
    queued, mail = None, work.mail
    if mail is not None:
        text = mail.text.replace("{link}", work.link + token)
        queued = Outbox(within, None).queue(
            mail.to, mail.subject, text, mail.kind, step.campaign_id, firm=_firm(s, step)
        )
    done = s.connection().execute(
        update(CampaignStepRow)
        .where(
            CampaignStepRow.id == step.id,
            CampaignStepRow.claims == step.claims,
            CampaignStepRow.done_at.is_(None),
        )
        .values(
            done_at=utcnow(),
            claimed_until=None,
            invitation_id=invitation.id if invitation else None,
            message_id=queued.id if queued else None,
            note=work.note,
        )
    )
    if done.rowcount != 1:
        raise _ClaimLost(step.id)  # rolls the invitation and the email back
    row = s.get(CampaignStepRow, step.id, populate_existing=True)
    assert row is not None, step.id
    return _step(s, row)


def _within(where: str, what: str, value: int | None, high: int) -> None:
    if value is not None and not 1 <= value <= high:
        raise CampaignError(f"{where}: {what} is 1 to {high}, not {value}")


def _found(s: Session, firm: str, name: str) -> CampaignRow:
    row = s.scalar(select(CampaignRow).where(CampaignRow.firm == firm, CampaignRow.name == name))
    if row is None:
        raise CampaignNotFound(f"no campaign {name!r}")
    return row


def _claimable(now: datetime) -> tuple[ColumnElement[bool], ...]:
    return (
        CampaignStepRow.done_at.is_(None),
        CampaignStepRow.due_at <= now,
        or_(CampaignStepRow.claimed_until.is_(None), CampaignStepRow.claimed_until <= now),
    )


def _names(s: Session, ids: Sequence[str]) -> dict[str, str]:
    rows = s.execute(select(CandidateRow.id, CandidateRow.name).where(CandidateRow.id.in_(ids)))
    return {candidate_id: name for candidate_id, name in rows}


def _campaign(s: Session, row: CampaignRow) -> Campaign:
    names = _names(s, row.people)
    spec = CampaignSpec(
        row.name, row.opens_at, row.window_days, row.team,
        tuple(names[p] for p in row.people if p in names), row.challenge, row.competency,
        row.cadence_months, row.remind_days, row.lapse_remind_days,
    )  # fmt: skip
    return Campaign(row.id, row.firm, spec, row.cycle, row.created_by, row.created_at,
                    row.closed_at)  # fmt: skip


def _step(s: Session, row: CampaignStepRow) -> Step:
    name = _names(s, [row.candidate_id]).get(row.candidate_id, row.candidate_id)
    return Step(
        row.id, row.campaign_id, row.candidate_id, name, row.cycle, row.kind, row.due_at,
        row.done_at, row.claims, row.invitation_id, row.message_id, row.note,
    )  # fmt: skip


def _firm(s: Session, step: Step) -> str:
    firm = s.scalar(select(CampaignRow.firm).where(CampaignRow.id == step.campaign_id))
    assert firm is not None, step.campaign_id
    return firm
