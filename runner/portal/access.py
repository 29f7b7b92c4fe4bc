"""Who asks and what they may see: the one place the portal checks an actor's scopes and
firm, finds the firm a run belongs to, and writes the audit log.

A run belongs to the firm of the invitation it was started from, else to the installation's
``firm`` setting (runs started with the CLI). An actor never learns that a run of another firm
exists: such a run is "not found".
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Any

from prodproven.runner.config import Settings
from prodproven.runner.credentials.issuer_key import issuer_key
from prodproven.runner.credentials.issuing import Register
from prodproven.runner.errors import RunNotFound, ScopeDenied
from prodproven.runner.people.accounts import SCOPES, Accounts, Assessor
from prodproven.runner.people.audit import Audit
from prodproven.runner.people.candidates import Candidates
from prodproven.runner.people.invitations import Invitations
from prodproven.runner.people.reviews import Reviews
from prodproven.runner.people.throttle import Throttle
from prodproven.runner.runs.store import Run, Store


@dataclass(frozen=True)
class Actor:
    """Who asks: an assessor (``label`` is their email) or the operator at the CLI, who sees
    every firm (``firm`` None)."""

    label: str
    firm: str | None
    scopes: tuple[str, ...] = SCOPES

    def require(self, scope: str) -> None:
        if scope not in self.scopes:
            raise ScopeDenied(f"this credential lacks the {scope!r} scope")

    def sees(self, firm: str) -> bool:
        return self.firm is None or self.firm == firm

    @classmethod
    def of(cls, assessor: Assessor, scopes: tuple[str, ...] = SCOPES) -> Actor:
        return cls(assessor.email, assessor.firm, scopes)


@dataclass(frozen=True)
class Records:
    """Where the portal's facets keep what they know. The web app and the CLI go through the
    facets; tests may set records up directly."""

    settings: Settings
    store: Store
    accounts: Accounts
    throttle: Throttle
    invitations: Invitations
    audit: Audit
    reviews: Reviews
    credentials: Register
    candidates: Candidates

    @classmethod
    def open(cls, settings: Settings, store: Store) -> Records:
        audit = Audit(store)
        return cls(
            settings=settings,
            store=store,
            accounts=Accounts(store),
            throttle=Throttle(store),
            invitations=Invitations(store),
            audit=audit,
            reviews=Reviews(store, audit),
            credentials=Register(store, audit, partial(issuer_key, settings.data_dir)),
            candidates=Candidates(store, audit, settings.data_dir / "runs"),
        )


class Access:
    """The checks every facet makes, written once."""

    def __init__(self, records: Records) -> None:
        self._records = records

    def firms(self) -> dict[str, str]:
        """The firm of every run started from an invitation, by run id."""
        return self._records.invitations.firm_of_runs()

    def firm_of(self, run_id: str, firms: dict[str, str] | None = None) -> str:
        found = self.firms() if firms is None else firms
        return found.get(run_id, self._records.settings.firm)

    def visible_run(self, actor: Actor, run_id: str, *scopes: str) -> Run:
        """The run, if ``actor`` holds ``scopes`` and ``read`` and may see it. Raises
        ScopeDenied, RunNotFound."""
        for scope in (*scopes, "read"):
            actor.require(scope)
        run: Run | None
        try:
            run = self._records.store.get(run_id)
        except RunNotFound:
            run = None  # same message as a run of another firm: existence is not disclosed
        if run is None or not actor.sees(self.firm_of(run_id)):
            raise RunNotFound(f"no run {run_id!r}")
        return run

    @staticmethod
    def operator_only(actor: Actor, what: str) -> None:
        """Only the operator at the CLI, who sees every firm, may ``what``. Raises
        ScopeDenied."""
        if actor.firm is not None:
            raise ScopeDenied(f"only the operator at the CLI may {what}")

    def record(
        self, who: str, action: str, subject: str, data: dict[str, Any] | None = None
    ) -> None:
        """One line of the audit log."""
        self._records.audit.record(who, action, subject, data)
