"""What people do through the web app, the API and the CLI, in one place: invite, take a
challenge, list and review runs, issue credentials. The portal is a set of facets, one per
concern; each operation takes the Actor asking, and the checks of its scope and firm and the
audit log live in one place (:mod:`prodproven.runner.portal.access`). The web layer only
translates HTTP.
"""

from __future__ import annotations

from collections.abc import Callable

from prodproven.runner.config import Settings
from prodproven.runner.lifecycle import supervisor
from prodproven.runner.lifecycle.core import Runner
from prodproven.runner.portal.access import Access, Records
from prodproven.runner.portal.campaigns import CampaignDesk
from prodproven.runner.portal.catalogue import Catalogue
from prodproven.runner.portal.credentials import CredentialDesk
from prodproven.runner.portal.frameworks import FrameworkDesk
from prodproven.runner.portal.invitations import InvitationDesk
from prodproven.runner.portal.invited import Invited
from prodproven.runner.portal.oncall import OnCall
from prodproven.runner.portal.outbox import OutboxDesk
from prodproven.runner.portal.people import AccountDesk, CandidateDesk
from prodproven.runner.portal.runs import ReviewDesk, RunDesk
from prodproven.runner.portal.teams import TeamDesk
from prodproven.runner.runs.store import Store


class Portal:
    """The operations behind the web app, its API and the people-facing CLI commands, by
    facet: ``catalogue``, ``accounts``, ``invitations``, ``invited`` (the candidate's side),
    ``oncall`` (a run's alerts), ``runs``, ``reviews``, ``credentials``, ``candidates`` and
    ``frameworks`` (competency frameworks and role profiles) and ``teams`` (teams and skill
    gaps), ``outbox`` (a firm's email), ``campaigns`` (re-certification campaigns)."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        runner: Callable[[Callable[[str], None]], Runner],
        supervise: Callable[[Settings], int] = supervisor.spawn,
    ) -> None:
        self.settings = settings
        self.records = Records.open(settings, store)
        access = Access(self.records)
        self.catalogue = Catalogue(settings)
        self.accounts = AccountDesk(self.records, access)
        self.invitations = InvitationDesk(self.records, access, self.catalogue)
        self.invited = Invited(self.records, access, self.catalogue, runner, supervise)
        self.oncall = OnCall(self.records, access)
        self.runs = RunDesk(self.records, access, self.invited.runner)
        self.reviews = ReviewDesk(self.records, access)
        self.credentials = CredentialDesk(self.records, access)
        self.candidates = CandidateDesk(self.records, access)
        self.frameworks = FrameworkDesk(self.records)
        self.teams = TeamDesk(self.records, access, self.catalogue, self.frameworks)
        self.campaigns = CampaignDesk(self.records, access, self.catalogue, self.teams)
        self.outbox = OutboxDesk(self.records, access)
