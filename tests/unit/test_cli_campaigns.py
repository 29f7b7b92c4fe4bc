"""``prodproven campaign`` (runner/cli/campaigns.py): the operator creates a campaign of a team,
``campaign tick`` does its due work once (the invitations queued in the outbox, nothing twice),
``show`` prints each member's progress, ``list`` and ``close``; a campaign that does not exist,
or a command that names no schedule, is one message."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from tests.unit.test_cli import ok, prodproven


def test_a_campaign_is_created_ticked_shown_listed_and_closed(tmp_path: Path) -> None:
    data = tmp_path / "data"
    for name in ("Grace", "Alan"):
        ok("candidate", "add", name, "--email", f"{name.lower()}@example.org", data=data)
    ok("team", "create", "Platform", data=data)
    ok("team", "add", "Platform", "Grace", "Alan", data=data)
    today = f"{datetime.now(UTC):%Y-%m-%d}"
    made = ok("campaign", "create", "Q", "--team", "Platform", "--challenge", "fix-drift",
              "--every-months", "3", "--opens", today, "--window-days", "14",
              data=data)  # fmt: skip
    assert f"created campaign Q; every 3 months from {today}, 14 days each" in made
    ticked = json.loads(ok("campaign", "tick", "--json", data=data))
    assert ticked["done"][0] == "campaign Q: cycle 0 opened, 2 members"
    assert sorted(ticked["done"][1:]) == [
        "campaign Q: invite Alan (cycle 0): queued", "campaign Q: invite Grace (cycle 0): queued",
    ]  # fmt: skip
    assert json.loads(ok("campaign", "tick", "--json", data=data))["done"] == []
    outbox = json.loads(ok("outbox", "--json", data=data))["messages"]
    assert [m["kind"] for m in outbox] == ["campaign.invitation"] * 2
    shown = json.loads(ok("campaign", "show", "Q", "--json", data=data))
    assert {m["candidate"]: m["state"] for m in shown["members"]} == {
        "Alan": "invited", "Grace": "invited",
    }  # fmt: skip
    assert "2 invited" in ok("campaign", "show", "Q", data=data)
    assert "team Platform" in ok("campaign", "list", data=data)
    assert "closed campaign Q" in ok("campaign", "close", "Q", data=data)
    assert json.loads(ok("campaign", "list", "--json", data=data))[0]["closed_at"] is not None


def test_a_campaign_without_a_schedule_or_that_does_not_exist_is_one_message(
    tmp_path: Path,
) -> None:
    data = tmp_path / "data"
    unscheduled = prodproven("campaign", "create", "Q", "--team", "T", "--challenge", "x",
                             "--opens", "2026-01-01", "--window-days", "5",
                             env_dir=data)  # fmt: skip
    assert unscheduled.returncode == 2 and "give either --every-months N or --once" in (
        unscheduled.stderr
    )
    missing = prodproven("campaign", "show", "Nope", env_dir=data)
    assert missing.returncode == 1 and "error: no campaign 'Nope'" in missing.stderr
