"""``prodproven candidate share``, ``unshare`` and ``forget`` (runner/cli/candidates.py): the
operator makes a person's record link on their behalf and prints it (or JSON), ends it, and
forgetting the person reports the team memberships and record links it deleted."""

from __future__ import annotations

import json
from pathlib import Path

from prodproven.runner.config import Settings
from prodproven.runner.people.audit import Audit
from prodproven.runner.people.shares import Shares
from prodproven.runner.runs.store import Store
from tests.unit.test_cli import ok, prodproven


def shares_of(data: Path) -> Shares:
    store = Store(Settings.from_env({}, data_dir=data).store_url)
    return Shares(store, Audit(store))


def test_share_prints_a_link_that_finds_the_person(tmp_path: Path) -> None:
    ok("candidate", "add", "Grace", data=tmp_path)
    link = ok("candidate", "share", "Grace", data=tmp_path).strip()
    assert "/record/" in link and "\n" not in link
    found = shares_of(tmp_path).find(link.rsplit("/", 1)[1])
    assert found is not None and found.name == "Grace"


def test_share_as_json_gives_the_link_and_a_new_link_ends_the_old(tmp_path: Path) -> None:
    ok("candidate", "add", "Grace", data=tmp_path)
    old = ok("candidate", "share", "Grace", data=tmp_path).strip()
    made = json.loads(ok("candidate", "share", "Grace", "--json", data=tmp_path))
    assert set(made) == {"link", "share", "created_at"} and made["link"] != old
    shares = shares_of(tmp_path)
    assert shares.find(old.rsplit("/", 1)[1]) is None
    assert shares.find(made["link"].rsplit("/", 1)[1]) is not None


def test_unshare_ends_the_link_and_says_so_when_there_is_none(tmp_path: Path) -> None:
    ok("candidate", "add", "Grace", data=tmp_path)
    link = ok("candidate", "share", "Grace", data=tmp_path).strip()
    assert "no longer works" in ok("candidate", "unshare", "Grace", data=tmp_path)
    assert shares_of(tmp_path).find(link.rsplit("/", 1)[1]) is None
    again = prodproven("candidate", "unshare", "Grace", env_dir=tmp_path)
    assert again.returncode != 0 and "'Grace' has no shared record link" in again.stderr


def test_share_names_an_unknown_candidate(tmp_path: Path) -> None:
    done = prodproven("candidate", "share", "Nobody", env_dir=tmp_path)
    assert done.returncode != 0 and "no candidate 'Nobody'" in done.stderr


def test_forget_reports_the_team_memberships_and_record_links_it_deleted(tmp_path: Path) -> None:
    ok("candidate", "add", "Grace", data=tmp_path)
    ok("team", "create", "Platform", data=tmp_path)
    ok("team", "add", "Platform", "Grace", data=tmp_path)
    link = ok("candidate", "share", "Grace", data=tmp_path).strip()
    said = ok("candidate", "forget", "Grace", "--yes", data=tmp_path)
    said = " ".join(said.split())  # the console wraps long lines
    assert "1 team memberships, 0 campaign places, 1 record links, 0 fingerprints deleted" in said
    assert shares_of(tmp_path).find(link.rsplit("/", 1)[1]) is None
    assert json.loads(ok("team", "list", "--json", data=tmp_path))[0]["members"] == []
