"""The campaigns facet (runner/portal/campaigns.py): an assessor creates and closes their firm's
campaigns (``review``) and reads them and their progress (``read``), for their own firm only;
``run_due`` opens each due cycle for the members of the moment and does each due step once:
an invitation to a fresh variant with its email, reminders only to who has not passed."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest

from prodproven.runner.errors import CandidateNotFound, ScopeDenied
from prodproven.runner.people.campaigns import CampaignError, CampaignNotFound, CampaignSpec
from prodproven.runner.people.invitations import Invitation
from prodproven.runner.people.outbox import Message, Outbox
from prodproven.runner.people.teams import TeamNotFound
from prodproven.runner.portal.access import Actor
from prodproven.runner.portal.core import Portal
from prodproven.runner.runs.store import utcnow
from tests.unit.portalsupport import ADA, BOB, CLI, invitation_for, run_for
from tests.unit.test_portal_teams import measured

NOW = utcnow()


def quarterly(**kw: object) -> CampaignSpec:
    given: dict[str, object] = {
        "name": "Q", "opens_at": NOW, "window_days": 14, "team": "Platform",
        "challenge": "fix-drift", "cadence_months": 3, "remind_days": 3, **kw,
    }  # fmt: skip
    return CampaignSpec(**given)  # type: ignore[arg-type]


@pytest.fixture
def team_a(portal: Portal) -> Portal:
    """Firm A's team "Platform" of Grace and Alan, whom it invited."""
    for name in ("Grace", "Alan"):
        invitation_for(portal, "firm-a", name)
    portal.teams.save(ADA, "Platform")
    portal.teams.add(ADA, "Platform", ["Grace", "Alan"])
    return portal


def mail(portal: Portal, kind: str | None = None) -> list[Message]:
    found = Outbox(portal.records.store, None).messages()
    return [m for m in found if kind is None or m.kind == kind]


def made_by_campaign(portal: Portal) -> list[Invitation]:
    return [i for i in portal.records.invitations.list() if i.created_by == "campaign:Q"]


def test_the_first_pass_invites_each_member_once_with_a_link_by_email(team_a: Portal) -> None:
    team_a.campaigns.create(ADA, quarterly())
    done = team_a.campaigns.run_due(NOW)
    assert done[0] == "campaign Q: cycle 0 opened, 2 members" and len(done) == 3
    invited = made_by_campaign(team_a)
    assert sorted(i.candidate_name for i in invited) == ["Alan", "Grace"]
    assert all(i.challenge_id == "fix-drift" and i.firm == "firm-a" for i in invited)
    assert all(i.expires_at <= NOW + timedelta(days=14) for i in invited)
    letters = mail(team_a, "campaign.invitation")
    assert sorted(m.recipient for m in letters) == ["alan@example.org", "grace@example.org"]
    assert all(f"{team_a.settings.base_url}/i/" in m.text for m in letters)
    assert team_a.campaigns.run_due(NOW + timedelta(minutes=1)) == []
    assert len(mail(team_a)) == 2 and len(made_by_campaign(team_a)) == 2
    progress = team_a.campaigns.progress(ADA, "Q")
    assert [(m.candidate, m.state) for m in progress.members] == [
        ("Alan", "invited"), ("Grace", "invited"),
    ]  # fmt: skip
    assert progress.counts["invited"] == 2 and progress.counts["passed"] == 0


def test_a_deadline_reminder_goes_only_to_who_has_not_passed(team_a: Portal) -> None:
    team_a.campaigns.create(ADA, quarterly())
    team_a.campaigns.run_due(NOW)
    grace = next(i for i in made_by_campaign(team_a) if i.candidate_name == "Grace")
    run = run_for(team_a, None, "Grace", challenge="fix-drift", score=80.0)
    team_a.records.invitations.attach_run(grace.id, run.id)
    team_a.records.store.update(run.id, result={**(run.result or {}), "passed": True})
    done = team_a.campaigns.run_due(NOW + timedelta(days=11))
    assert sorted(done) == [
        "campaign Q: remind_deadline Alan (cycle 0): queued",
        "campaign Q: remind_deadline Grace (cycle 0): passed",
    ]
    (reminder,) = mail(team_a, "campaign.reminder")
    assert reminder.recipient == "alan@example.org" and "is due by" in reminder.text
    states = {m.candidate: m.state for m in team_a.campaigns.progress(ADA, "Q").members}
    assert states == {"Grace": "passed", "Alan": "invited"}


def test_a_lapse_reminder_comes_before_the_members_evidence_lapses(team_a: Portal) -> None:
    measured(team_a, "firm-a", "Alan", {"optimization": 70.0}, days_ago=300)
    yearly = quarterly(cadence_months=12, remind_days=None, lapse_remind_days=20)
    team_a.campaigns.create(ADA, yearly)
    team_a.campaigns.run_due(NOW)
    lapses = NOW + timedelta(days=12 * 30.44 - 300)
    assert team_a.campaigns.run_due(lapses - timedelta(days=21)) == []
    done = team_a.campaigns.run_due(lapses - timedelta(days=19))
    assert done == ["campaign Q: remind_lapse Alan (cycle 0): queued"]
    (reminder,) = mail(team_a, "campaign.lapse_reminder")
    assert f"lapsing on {lapses:%Y-%m-%d}" in reminder.text


def test_a_competency_invites_to_a_challenge_measuring_it_not_the_one_taken_last(
    team_a: Portal,
) -> None:
    run_for(team_a, "firm-a", "Grace", challenge="capacity-plan", score=60.0)
    team_a.campaigns.create(ADA, quarterly(challenge=None, competency="optimization"))
    team_a.campaigns.run_due(NOW)
    chosen = {i.candidate_name: i.challenge_id for i in made_by_campaign(team_a)}
    assert chosen == {"Grace": "deploy-model", "Alan": "capacity-plan"}
    with pytest.raises(CampaignError, match="no installed challenge measures 'acme/x'"):
        team_a.campaigns.create(ADA, quarterly(name="R", challenge=None, competency="acme/x"))


def test_an_invitation_is_to_a_variant_the_person_has_not_had(
    team_a: Portal, monkeypatch: pytest.MonkeyPatch
) -> None:
    invitation_for(team_a, "firm-a", "Grace", challenge="fix-drift", variant=7)
    draws = iter([7, 7, 8])
    monkeypatch.setattr(
        "prodproven.runner.portal.campaigns.secrets.randbelow", lambda _: next(draws)
    )
    team_a.campaigns.create(ADA, quarterly(team=None, people=("Grace",)))
    team_a.campaigns.run_due(NOW)
    assert [i.variant for i in made_by_campaign(team_a)] == [8]


def test_members_are_the_teams_when_each_cycle_opens(team_a: Portal) -> None:
    team_a.campaigns.create(ADA, quarterly())
    team_a.campaigns.run_due(NOW)
    invitation_for(team_a, "firm-a", "Ada")
    team_a.teams.add(ADA, "Platform", ["Ada"])
    team_a.campaigns.run_due(NOW + timedelta(days=1))
    assert "Ada" not in {i.candidate_name for i in made_by_campaign(team_a)}
    next_cycle = quarterly().opens(1)
    assert team_a.campaigns.run_due(next_cycle)[0] == "campaign Q: cycle 1 opened, 3 members"
    cycles = {(m.candidate, m.cycle) for m in team_a.campaigns.progress(ADA, "Q").members}
    assert ("Ada", 1) in cycles and ("Ada", 0) not in cycles


def test_who_has_not_passed_by_the_deadline_is_overdue(team_a: Portal) -> None:
    opened = NOW - timedelta(days=20)
    team_a.campaigns.create(ADA, quarterly(opens_at=opened))
    team_a.campaigns.run_due(opened + timedelta(days=1))
    progress = team_a.campaigns.progress(ADA, "Q")
    assert {m.state for m in progress.members} == {"overdue"} and progress.counts["overdue"] == 2


def test_a_member_without_an_address_is_noted_not_invited(team_a: Portal) -> None:
    team_a.records.candidates.ensure("Nora")
    team_a.teams.add(CLI, "Platform", ["Nora"], "firm-a")  # the operator adds anyone
    team_a.campaigns.create(ADA, quarterly())
    assert "campaign Q: invite Nora (cycle 0): no email address" in team_a.campaigns.run_due(NOW)
    nora = next(m for m in team_a.campaigns.progress(ADA, "Q").members if m.candidate == "Nora")
    assert (nora.state, nora.note) == ("scheduled", "no email address")
    assert len(made_by_campaign(team_a)) == 2


def test_two_passes_at_once_invite_and_mail_each_member_once(team_a: Portal) -> None:
    team_a.campaigns.create(ADA, quarterly())
    start = threading.Barrier(2)

    def tick() -> None:
        start.wait()
        team_a.campaigns.run_due(NOW)

    threads = [threading.Thread(target=tick) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert len(made_by_campaign(team_a)) == 2 and len(mail(team_a)) == 2


def test_a_closed_campaign_does_nothing_more(team_a: Portal) -> None:
    team_a.campaigns.create(ADA, quarterly())
    team_a.campaigns.run_due(NOW)
    assert team_a.campaigns.close(ADA, "Q").closed_at is not None
    assert team_a.campaigns.run_due(NOW + timedelta(days=11)) == []
    assert team_a.campaigns.run_due(quarterly().opens(1)) == []


def test_another_firm_neither_sees_nor_closes_it_and_reading_is_not_changing(
    team_a: Portal,
) -> None:
    team_a.campaigns.create(ADA, quarterly())
    assert team_a.campaigns.campaigns(BOB) == []
    for attempt in (team_a.campaigns.campaign, team_a.campaigns.close, team_a.campaigns.progress):
        with pytest.raises(CampaignNotFound, match="no campaign 'Q'"):
            attempt(BOB, "Q")
    with pytest.raises(TeamNotFound):
        team_a.campaigns.create(BOB, quarterly())
    reader = Actor("rita@a.example", "firm-a", ("read",))
    assert [c.spec.name for c in team_a.campaigns.campaigns(reader)] == ["Q"]
    with pytest.raises(ScopeDenied):
        team_a.campaigns.close(reader, "Q")
    team_a.campaigns.close(ADA, "Q")
    actions = [e.action for e in team_a.records.audit.entries("firm-a")]
    assert "campaign.create" in actions and "campaign.close" in actions
    assert [c.spec.name for c in team_a.campaigns.campaigns(CLI, "firm-a")] == ["Q"]


def test_a_person_the_firm_does_not_know_is_not_found(team_a: Portal) -> None:
    with pytest.raises(CandidateNotFound, match="no candidate 'Nobody'"):
        team_a.campaigns.create(ADA, quarterly(team=None, people=("Nobody",)))
    assert team_a.campaigns.campaigns(ADA) == []


def test_a_campaign_that_cannot_open_holds_up_no_other(team_a: Portal) -> None:
    team_a.teams.save(ADA, "Gone")
    team_a.campaigns.create(ADA, quarterly(name="Broken", team="Gone"))
    team_a.teams.delete(ADA, "Gone")
    team_a.campaigns.create(ADA, quarterly())
    done = team_a.campaigns.run_due(NOW)
    assert "campaign Broken: cycle 0 cannot open: no team 'Gone'" in done
    assert len(made_by_campaign(team_a)) == 2


def test_a_lapse_reminder_found_late_is_not_sent_once_the_evidence_lapsed(team_a: Portal) -> None:
    measured(team_a, "firm-a", "Alan", {"optimization": 70.0}, days_ago=300)
    team_a.campaigns.create(
        ADA, quarterly(cadence_months=12, remind_days=None, lapse_remind_days=20)
    )
    team_a.campaigns.run_due(NOW)
    lapses = NOW + timedelta(days=12 * 30.44 - 300)
    done = team_a.campaigns.run_due(lapses + timedelta(days=1))
    assert done == ["campaign Q: remind_lapse Alan (cycle 0): the evidence lapsed already"]
    assert mail(team_a, "campaign.lapse_reminder") == []


def test_forgetting_a_member_removes_their_steps_and_their_place_in_the_campaign(
    team_a: Portal,
) -> None:
    team_a.campaigns.create(ADA, quarterly(team=None, people=["Grace", "Alan"]))
    team_a.campaigns.run_due(NOW)
    done = team_a.candidates.forget(CLI, "Grace")
    # her invitation step, her deadline reminder's and her place on the list
    assert done.others["campaign_places"] == 3
    assert [m.candidate for m in team_a.campaigns.progress(ADA, "Q").members] == ["Alan"]
