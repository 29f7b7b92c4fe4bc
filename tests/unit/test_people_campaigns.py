"""Campaigns in the store (runner/people/campaigns.py): a cycle opens every N calendar months
from the opening (or once), is due ``window_days`` later and reminds ``remind_days`` before;
a lapse reminder comes ``lapse_remind_days`` before the evidence lapses when that falls in the
cycle. Each step is claimed once, and done in one transaction with its invitation and email:
neither two concurrent processes nor a crash between claim and done yields a second
invitation or email, nor loses one."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from prodproven.runner.people.audit import Audit
from prodproven.runner.people.campaigns import (
    LEASE,
    Campaign,
    CampaignError,
    CampaignNotFound,
    Campaigns,
    CampaignSpec,
    InviteOrder,
    Mail,
    Step,
    Work,
    add_months,
    progress_state,
)
from prodproven.runner.people.candidates import Candidates
from prodproven.runner.people.invitations import InvitationRow
from prodproven.runner.people.outbox import OutboxRow
from prodproven.runner.runs.store import Store

JAN_31 = datetime(2026, 1, 31, 9, 0, tzinfo=UTC)


def spec(**kw: object) -> CampaignSpec:
    given: dict[str, object] = {
        "name": "Q", "opens_at": JAN_31, "window_days": 14, "team": "Platform",
        "challenge": "fix-drift", "cadence_months": 3, **kw,
    }  # fmt: skip
    return CampaignSpec(**given)  # type: ignore[arg-type]


# the schedule ------------------------------------------------------------------------------
def test_cycles_open_every_n_calendar_months_on_the_same_day_or_the_months_last() -> None:
    quarterly = spec()
    assert [quarterly.opens(k).date().isoformat() for k in range(4)] == [
        "2026-01-31", "2026-04-30", "2026-07-31", "2026-10-31",
    ]  # fmt: skip
    assert quarterly.deadline(1) == datetime(2026, 5, 14, 9, 0, tzinfo=UTC)
    assert add_months(JAN_31, 1).day == 28 and add_months(JAN_31, 13).day == 28


def test_the_current_cycle_is_the_newest_opened_whose_window_is_open() -> None:
    quarterly = spec()
    assert quarterly.current_cycle(JAN_31 - timedelta(seconds=1)) is None
    assert quarterly.current_cycle(JAN_31) == 0
    assert quarterly.current_cycle(quarterly.deadline(0)) is None  # between windows
    assert quarterly.current_cycle(quarterly.opens(5) + timedelta(days=3)) == 5
    assert quarterly.current_cycle(quarterly.opens(5) - timedelta(seconds=1)) is None


def test_a_one_off_window_has_one_cycle() -> None:
    once = spec(cadence_months=None, window_days=30)
    assert once.current_cycle(JAN_31 + timedelta(days=29)) == 0
    assert once.current_cycle(JAN_31 + timedelta(days=30)) is None
    assert once.current_cycle(JAN_31 + timedelta(days=400)) is None


def test_a_members_steps_are_the_invitation_and_the_reminders_that_fall_in_the_cycle() -> None:
    reminding = spec(remind_days=3, lapse_remind_days=10)
    opens = reminding.opens(1)
    lapses = opens + timedelta(days=40)
    assert reminding.steps(1, lapses) == [
        ("invite", opens),
        ("remind_deadline", reminding.deadline(1) - timedelta(days=3)),
        ("remind_lapse", lapses - timedelta(days=10)),
    ]
    assert [k for k, _ in reminding.steps(1, None)] == ["invite", "remind_deadline"]
    after_next = reminding.opens(2) + timedelta(days=11)  # the next cycle's to remind
    assert [k for k, _ in reminding.steps(1, after_next)] == ["invite", "remind_deadline"]
    too_soon = opens + timedelta(days=5)  # the invitation itself does
    assert [k for k, _ in reminding.steps(1, too_soon)] == ["invite", "remind_deadline"]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"people": ("Ada",)}, "either a team or people, not both"),
        ({"competency": "optimization"}, "either a challenge or a competency"),
        ({"opens_at": datetime(2026, 1, 1)}, "needs a time zone"),
        ({"window_days": 90}, "window_days is 1 to 84, not 90"),
        ({"remind_days": 14}, "remind_days is 1 to 13, not 14"),
        ({"name": " Q"}, "without spaces at either end"),
    ],
)
def test_a_campaign_that_makes_no_sense_is_refused(
    changes: dict[str, object], message: str
) -> None:
    with pytest.raises(CampaignError, match=message):
        spec(**changes)


def test_progress_says_how_far_a_member_got_and_overdue_after_the_deadline() -> None:
    now, later = JAN_31, JAN_31 + timedelta(days=1)
    assert progress_state(now, later, False, None, False) == "scheduled"
    assert progress_state(now, later, True, None, False) == "invited"
    assert progress_state(now, later, True, "running", False) == "started"
    assert progress_state(now, later, True, "graded", False) == "graded"
    assert progress_state(later, later, True, "graded", False) == "overdue"
    assert progress_state(later, later, True, "graded", True) == "passed"


# the steps -------------------------------------------------------------------------------------
@pytest.fixture
def campaigns(store: Store) -> Campaigns:
    return Campaigns(store)


@pytest.fixture
def opened(store: Store, campaigns: Campaigns, tmp_path: Path) -> tuple[Campaign, str]:
    """Campaign "Q" with cycle 0 opened for Ada (its invitation due at the opening)."""
    ada = Candidates(store, Audit(store), tmp_path).ensure("Ada", "ada@example.org")
    made = campaigns.create("acme", spec(), [], "lead@acme.test")
    assert campaigns.open_cycle(made, 0, {ada.id: spec().steps(0, None)})
    return made, ada.id


def invite_work(step: Step) -> Work:
    order = InviteOrder("acme", "fix-drift", step.candidate, "ada@example.org", "campaign:Q",
                        timedelta(days=7), 12)  # fmt: skip
    mail = Mail("ada@example.org", "Re-certification", "open {link}\n", "campaign.invitation")
    return Work(order, mail, link="https://pp.test/i/")


def count(store: Store, table: type[InvitationRow] | type[OutboxRow]) -> int:
    with store.session() as s:
        return int(s.scalar(select(func.count()).select_from(table)) or 0)


def test_a_name_is_unique_in_the_firm_and_another_firm_has_none(campaigns: Campaigns) -> None:
    campaigns.create("acme", spec(), [], "lead@acme.test")
    with pytest.raises(CampaignError, match="name a team or people"):
        campaigns.create("acme", spec(name="R", team=None), [], "lead@acme.test")
    with pytest.raises(CampaignError, match="there is a campaign 'Q' already"):
        campaigns.create("acme", spec(), [], "lead@acme.test")
    with pytest.raises(CampaignNotFound, match="no campaign 'Q'"):
        campaigns.get("other", "Q")
    campaigns.create("other", spec(), [], "lead@other.test")
    assert [c.firm for c in campaigns.all()] == ["acme", "other"]


def test_a_cycle_opens_once(campaigns: Campaigns, opened: tuple[Campaign, str]) -> None:
    made, ada = opened
    assert not campaigns.open_cycle(made, 0, {ada: spec().steps(0, None)})
    assert [s.kind for s in campaigns.steps(made.id)] == ["invite"]
    assert campaigns.get("acme", "Q").cycle == 0


def test_a_step_makes_its_invitation_and_email_and_is_done_once(
    store: Store, campaigns: Campaigns, opened: tuple[Campaign, str]
) -> None:
    (step,) = campaigns.due(JAN_31)
    claimed = campaigns.claim(step.id, JAN_31)
    assert claimed is not None and campaigns.claim(step.id, JAN_31) is None  # held
    done = campaigns.complete(claimed, invite_work(claimed))
    assert done is not None and done.done_at is not None and done.invitation_id is not None
    with store.session() as s:
        text = s.scalars(select(OutboxRow.text)).one()
    assert text.startswith("open https://pp.test/i/") and len(text) > 40  # the token
    assert campaigns.due(JAN_31 + LEASE * 2) == []
    assert campaigns.complete(claimed, invite_work(claimed)) is None  # done already
    assert (count(store, InvitationRow), count(store, OutboxRow)) == (1, 1)


def test_after_a_crash_between_claim_and_done_the_step_is_done_once_its_claim_runs_out(
    store: Store, campaigns: Campaigns, opened: tuple[Campaign, str]
) -> None:
    (step,) = campaigns.due(JAN_31)
    crashed = campaigns.claim(step.id, JAN_31)  # ... and the process died here
    assert crashed is not None
    assert campaigns.due(JAN_31 + LEASE / 2) == []  # still held
    retried = campaigns.claim(step.id, JAN_31 + LEASE)
    assert retried is not None
    assert campaigns.complete(crashed, invite_work(crashed)) is None  # too late: nothing
    assert (count(store, InvitationRow), count(store, OutboxRow)) == (0, 0)
    assert campaigns.complete(retried, invite_work(retried)) is not None
    assert (count(store, InvitationRow), count(store, OutboxRow)) == (1, 1)


def test_two_processes_doing_the_due_steps_at_once_do_each_once(
    store: Store, campaigns: Campaigns, tmp_path: Path
) -> None:
    people = Candidates(store, Audit(store), tmp_path)
    members = {
        people.ensure(f"P{n}", f"p{n}@example.org").id: [("invite", JAN_31)] for n in range(8)
    }
    campaigns.open_cycle(campaigns.create("acme", spec(), [], "lead"), 0, members)
    start = threading.Barrier(2)

    def work() -> None:
        start.wait()
        for step in campaigns.due(JAN_31):
            claimed = campaigns.claim(step.id, JAN_31)
            if claimed is not None:
                campaigns.complete(claimed, invite_work(claimed))

    threads = [threading.Thread(target=work) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert (count(store, InvitationRow), count(store, OutboxRow)) == (8, 8)
    assert all(s.done_at is not None for s in campaigns.steps(campaigns.get("acme", "Q").id))


def test_a_step_that_cannot_be_done_writes_nothing_and_can_be_done_with_a_note(
    store: Store, campaigns: Campaigns, opened: tuple[Campaign, str]
) -> None:
    (step,) = campaigns.due(JAN_31)
    claimed = campaigns.claim(step.id, JAN_31)
    assert claimed is not None
    bad = Work(mail=Mail("not an address", "s", "t", "campaign.invitation"))
    with pytest.raises(ValueError, match="is not an email address"):
        campaigns.complete(claimed, bad)
    assert (count(store, InvitationRow), count(store, OutboxRow)) == (0, 0)
    noted = campaigns.complete(claimed, Work(note="no email address"))
    assert noted is not None and noted.note == "no email address" and noted.message_id is None


def test_forgetting_a_person_removes_their_steps_and_place(
    store: Store, campaigns: Campaigns, tmp_path: Path
) -> None:
    ada = Candidates(store, Audit(store), tmp_path).ensure("Ada")
    made = campaigns.create("acme", spec(team=None, people=("Ada",)), [ada.id], "lead")
    assert made.spec.people == ("Ada",)
    campaigns.open_cycle(made, 0, {ada.id: [("invite", JAN_31)]})
    assert campaigns.forget(ada) == 2
    assert campaigns.steps(made.id) == [] and campaigns.get("acme", "Q").spec.people == ()
    assert campaigns.forget(ada) == 0
