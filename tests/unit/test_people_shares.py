"""Record links (runner/people/shares.py): a person has at most one live link, only its token's
digest is stored, a revoked link and one never made are alike, every change is audited, and
forgetting the person deletes their links."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from prodproven.runner.people.audit import Audit
from prodproven.runner.people.candidates import Candidate, CandidateRow
from prodproven.runner.people.shares import ShareError, ShareNotFound, ShareRow, Shares
from prodproven.runner.runs.store import Store


@pytest.fixture
def audit(store: Store) -> Audit:
    return Audit(store)


@pytest.fixture
def shares(store: Store, audit: Audit) -> Shares:
    return Shares(store, audit)


def person(store: Store, name: str = "Grace", forgotten_at: datetime | None = None) -> Candidate:
    with store.session() as s:
        row = CandidateRow(
            id=name.lower()[:12],
            name=name,
            created_at=datetime(2026, 1, 1, tzinfo=UTC),
            forgotten_at=forgotten_at,
        )
        s.add(row)
        s.flush()
        return Candidate.from_row(row)


def test_nothing_is_shared_until_a_link_is_made(store: Store, shares: Shares) -> None:
    assert shares.current(person(store)) is None


def test_a_link_finds_its_person_and_stores_only_its_digest(store: Store, shares: Shares) -> None:
    grace = person(store)
    share, token = shares.create(grace, "cli:root")
    assert len(token) >= 43  # 256 bits, URL-safe
    assert shares.find(token) == grace
    assert shares.current(grace) == share
    with store.session() as s:
        stored = s.scalars(select(ShareRow)).one()
        assert token not in (stored.digest, stored.id) and len(stored.digest) == 64


def test_a_new_link_ends_the_old_one(store: Store, shares: Shares) -> None:
    grace = person(store)
    _, old = shares.create(grace, "cli:root")
    share, new = shares.create(grace, "cli:root")
    assert shares.find(old) is None and shares.find(new) == grace
    assert shares.current(grace) == share


def test_a_revoked_link_is_like_one_never_made(store: Store, shares: Shares) -> None:
    grace = person(store)
    _, token = shares.create(grace, "cli:root")
    revoked = shares.revoke(grace, "cli:root")
    assert revoked.revoked_at is not None
    assert shares.find(token) is None and shares.find("never-made") is None
    assert shares.current(grace) is None


def test_revoking_without_a_live_link_names_the_person(store: Store, shares: Shares) -> None:
    with pytest.raises(ShareNotFound, match="'Grace' has no shared record link"):
        shares.revoke(person(store), "cli:root")


def test_one_persons_link_never_shows_anothers_record(store: Store, shares: Shares) -> None:
    grace, alan = person(store), person(store, "Alan")
    _, token = shares.create(grace, "cli:root")
    shares.create(alan, "cli:root")
    assert shares.find(token) == grace


def test_a_forgotten_person_shares_nothing(store: Store, shares: Shares) -> None:
    forgotten = person(store, "forgotten-x", forgotten_at=datetime(2026, 2, 1, tzinfo=UTC))
    with pytest.raises(ShareError, match="was forgotten"):
        shares.create(forgotten, "cli:root")


def test_forgetting_deletes_every_link_of_the_person_and_no_one_elses(
    store: Store, shares: Shares
) -> None:
    grace, alan = person(store), person(store, "Alan")
    shares.create(grace, "cli:root")
    _, live = shares.create(grace, "cli:root")
    _, alans = shares.create(alan, "cli:root")
    assert shares.forget(grace) == 2
    assert shares.find(live) is None and shares.find(alans) == alan
    assert shares.forget(grace) == 0


def test_sharing_and_unsharing_are_audited_under_the_persons_id_not_their_name(
    store: Store, shares: Shares, audit: Audit
) -> None:
    grace = person(store)
    share, _ = shares.create(grace, "candidate:inv1")
    shares.revoke(grace, "cli:root")
    oldest_first = sorted(audit.entries(), key=lambda e: e.id)
    logged = [(e.actor, e.action, e.subject, e.data) for e in oldest_first]
    assert logged == [
        ("candidate:inv1", "record.shared", grace.id, {"share": share.id}),
        ("cli:root", "record.unshared", grace.id, {"share": share.id}),
    ]
