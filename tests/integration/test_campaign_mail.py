"""A campaign's invitations through a real SMTP server (aiosmtpd on 127.0.0.1): a campaign of a
team of three on fix-drift queues three invitations in one pass, the outbox delivers them, the
three emails arrive each with a link that opens its invitation, and a second pass sends
nothing more. No Docker: the runs are the unit tests' fake runner's."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from prodproven.runner.people.campaigns import CampaignSpec
from prodproven.runner.people.mail import SmtpSender
from prodproven.runner.people.outbox import Outbox
from prodproven.runner.portal.access import Actor
from prodproven.runner.runs.store import utcnow
from tests.conftest import free_port
from tests.integration.test_mail_delivery import MailServer, self_signed
from tests.unit.websupport import Web, make_web

LEAD = Actor("lead@acme.test", "acme")
TEAM = ("Dana", "Eve", "Femi")


@pytest.fixture
def mail_server(tmp_path: Path) -> Iterator[MailServer]:
    server = MailServer(free_port(), self_signed(tmp_path))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def web(tmp_path: Path, mail_server: MailServer) -> Web:
    """The app, its email through ``mail_server``, with acme's team Platform of three."""
    smtp = {"PRODPROVEN_SMTP_HOST": "127.0.0.1", "PRODPROVEN_SMTP_PORT": str(mail_server.port),
            "PRODPROVEN_SMTP_TLS": "none", "PRODPROVEN_SMTP_FROM": "assess@acme.test"}  # fmt: skip
    made = make_web(tmp_path, smtp)
    for name in TEAM:
        made.portal.records.candidates.ensure(name, f"{name.lower()}@people.test")
    made.portal.teams.save(Actor("cli:op", None), "Platform", firm="acme")
    made.portal.teams.add(Actor("cli:op", None), "Platform", TEAM, firm="acme")
    return made


def test_a_team_of_three_gets_one_invitation_each_by_email_and_nothing_twice(
    web: Web, mail_server: MailServer
) -> None:
    campaigns = web.portal.campaigns
    spec = CampaignSpec("Q1", utcnow(), 14, team="Platform", challenge="fix-drift",
                        cadence_months=3, remind_days=3)  # fmt: skip
    campaigns.create(LEAD, spec)
    done = campaigns.run_due()
    assert len([line for line in done if ": invite " in line]) == 3
    outbox = Outbox(web.portal.records.store, SmtpSender.from_settings(web.settings))
    assert len(outbox.deliver_due().sent) == 3
    arrived = {a.rcpt_tos[0]: a.message for a in mail_server.inbox.arrived}
    assert sorted(arrived) == [f"{n.lower()}@people.test" for n in TEAM]
    for name in TEAM:
        message = arrived[f"{name.lower()}@people.test"]
        assert message["Subject"].startswith("Re-certification: ")
        body = message.get_body()
        assert body is not None
        (link,) = re.findall(rf"{re.escape(web.settings.base_url)}/i/\S+", body.get_content())
        web.candidate(link)  # opens the invitation and takes it up
        invitation = web.portal.records.invitations.find(link.rsplit("/", 1)[1])
        assert invitation is not None and invitation.candidate_name == name
        assert invitation.challenge_id == "fix-drift" and invitation.redeemed_at is not None
    assert campaigns.run_due() == []
    assert outbox.deliver_due().sent == ()
    assert len(mail_server.inbox.arrived) == 3
    progress = campaigns.progress(LEAD, "Q1")
    assert progress.counts["invited"] == 3
