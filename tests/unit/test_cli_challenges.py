"""``prodproven challenge`` and the variant option against hostile input, through the real
command line: a broken challenge is listed, not fatal; a variant out of range is one message."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import MakeChallenge
from tests.unit.test_cli import prodproven


def test_challenge_list_shows_a_broken_challenge_with_its_problem_and_exits_0(
    tmp_path: Path, make_challenge: MakeChallenge
) -> None:
    copy = make_challenge(raw="id: acme-broken\ntitle: [unclosed\n")
    broken = copy.rename(copy.parent / "acme-broken")
    found = prodproven(
        "--challenges-dir", str(broken.parent), "challenge", "list", "--json", env_dir=tmp_path
    )
    assert found.returncode == 0, found.stderr
    rows = {row["id"]: row for row in json.loads(found.stdout)}
    assert "not valid YAML at line" in rows["acme-broken"]["error"]
    assert "title" in rows["deploy-model"]


def test_a_variant_out_of_range_is_one_message(tmp_path: Path) -> None:
    refused = prodproven(
        "run", "deploy-model", "--variant", "99999999999999999999", env_dir=tmp_path
    )
    assert refused.returncode == 2 and "Traceback" not in refused.stderr
    assert "--variant" in refused.stderr and "2147483647" in refused.stderr
