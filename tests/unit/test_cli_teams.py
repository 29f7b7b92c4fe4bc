"""``prodproven team`` and ``prodproven candidate gaps`` (runner/cli/teams.py): the operator
makes a team held against a role profile, adds and removes people, lists the teams, shows the
standings as a table, JSON or CSV, and a person's gaps against the role profile; a team that
does not exist is one message."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import yaml

from tests.unit.test_cli import ok, prodproven

ML2 = {"name": "ML2", "requires": {"deployment": 3, "incident_response": 2}}


def test_a_team_is_made_filled_shown_and_exported(tmp_path: Path) -> None:
    data = tmp_path / "data"
    profile = tmp_path / "ml2.yaml"
    profile.write_text(yaml.safe_dump(ML2))
    ok("role", "apply", str(profile), data=data)
    for name in ("Grace", "Alan"):
        ok("candidate", "add", name, data=data)
    assert "saved team Platform" in ok("team", "create", "Platform", "--role", "ML2", data=data)
    assert "Alan, Grace" in ok("team", "add", "Platform", "Grace", "Alan", data=data)
    listed = json.loads(ok("team", "list", "--json", data=data))
    assert [(t["name"], t["members"], t["role_profiles"]) for t in listed] == [
        ("Platform", ["Alan", "Grace"], ["ML2"])
    ]
    table = ok("team", "show", "Platform", data=data)
    assert "never measured" in table and "Grace" in table
    exported = tmp_path / "platform.csv"
    shown = json.loads(ok("team", "show", "Platform", "--json", "--csv", str(exported), data=data))
    assert shown["competencies"][0] == "deployment"
    assert {c["state"] for c in shown["cells"]["Grace"]} == {"never measured"}
    rows = list(csv.DictReader(exported.open()))
    assert len(rows) == 2 * len(shown["competencies"])
    assert "Grace" in ok("team", "remove", "Platform", "Alan", data=data)


def test_a_candidates_gaps_name_the_challenges_that_measure_them(tmp_path: Path) -> None:
    data = tmp_path / "data"
    profile = tmp_path / "ml2.yaml"
    profile.write_text(yaml.safe_dump(ML2))
    ok("role", "apply", str(profile), data=data)
    ok("candidate", "add", "Grace", data=data)
    found = json.loads(ok("candidate", "gaps", "Grace", "--role", "ML2", "--json", data=data))
    gaps = {g["competency"]: g for g in found["gaps"]}
    assert {g["kind"] for g in gaps.values()} == {"missing"}
    assert gaps["incident_response"]["challenges"] == ["incident-response"]
    table = ok("candidate", "gaps", "Grace", "--role", "ML2", data=data)
    assert "incident response" in table and "missing" in table


def test_an_unknown_team_is_one_message(tmp_path: Path) -> None:
    done = prodproven("team", "show", "Nope", env_dir=tmp_path / "data")
    assert done.returncode == 1 and "no team 'Nope'" in done.stderr
    assert "Traceback" not in done.stderr
