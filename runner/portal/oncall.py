"""The on-call alert as people see it: the candidate's page (and JupyterLab) shows the open
alert of their invitation's run and lets them acknowledge it; the operator at the CLI sees a
run's alerts and may acknowledge for them. Every acknowledgement is a run event
(runner/runs/alerts.py) and a line of the audit log."""

from __future__ import annotations

from prodproven.graders.slo import Alert
from prodproven.runner.errors import RunStateError
from prodproven.runner.people.invitations import Invitation
from prodproven.runner.portal.access import Access, Actor, Records
from prodproven.runner.runs import alerts
from prodproven.runner.runs.store import Status

ACKNOWLEDGED = "alert.acknowledged"
"""The audit log's action for an acknowledgement."""


class OnCall:
    """A run's pages: the open alert, the history, acknowledging."""

    def __init__(self, records: Records, access: Access) -> None:
        self._records = records
        self._access = access

    def candidate_alert(self, invitation_id: str) -> Alert | None:
        """The open alert of the invitation's running run (None: no running run, or nothing is
        wrong). Raises AccessDenied for an invitation no longer usable."""
        _, run_id = self._running(invitation_id)
        return None if run_id is None else alerts.open_alert(self._records.store, run_id)

    def candidate_acknowledge(self, invitation_id: str, alert_id: str) -> Alert:
        """The candidate saw alert ``alert_id`` of their running run. Raises AccessDenied, and
        RunStateError when the invitation has no running run or the alert is unknown or
        resolved."""
        invitation, run_id = self._running(invitation_id)
        if run_id is None:
            raise RunStateError("your run is not running, so there is no alert to acknowledge")
        return self._acknowledge(_candidate(invitation), run_id, alert_id)

    def _running(self, invitation_id: str) -> tuple[Invitation, str | None]:
        """The invitation and the id of its run while it is running. Raises AccessDenied."""
        invitation = self._records.invitations.usable(invitation_id)
        run_id = invitation.run_id
        if run_id is None or self._records.store.get(run_id).status != Status.running:
            return invitation, None
        return invitation, run_id

    def of_run(self, actor: Actor, run_id: str) -> list[Alert]:
        """Every alert of the run, in the order they fired. Raises ScopeDenied, RunNotFound."""
        self._access.visible_run(actor, run_id)
        return alerts.run_alerts(self._records.store, run_id)

    def acknowledge(self, actor: Actor, run_id: str, alert_id: str | None = None) -> Alert:
        """Acknowledge the run's alert ``alert_id`` (None: the open one) for its candidate.
        Raises ScopeDenied, RunNotFound, and RunStateError when nothing is open or the alert
        is unknown or resolved."""
        self._access.visible_run(actor, run_id, "review")
        if alert_id is None:
            found = alerts.open_alert(self._records.store, run_id)
            if found is None:
                raise RunStateError(f"run {run_id} has no open alert to acknowledge")
            alert_id = found.id
        return self._acknowledge(actor.label, run_id, alert_id)

    def _acknowledge(self, who: str, run_id: str, alert_id: str) -> Alert:
        acked = alerts.acknowledge(self._records.store, run_id, alert_id, who)
        self._access.record(who, ACKNOWLEDGED, run_id, {"alert": alert_id})
        return acked


def _candidate(invitation: Invitation) -> str:
    """How the audit log and the run's events name a candidate."""
    return f"candidate:{invitation.candidate_email}"
