"""``prodproven role`` (runner/cli/roles.py): apply a role profile or framework file, list
them, show one as YAML that applies again, delete one; a file that cannot be saved is refused
naming it."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from tests.unit.test_cli import prodproven
from tests.unit.test_framework import framework_doc

ML2 = {"name": "ML engineer II", "requires": {"deployment": 3, "incident_response": 2}}


def file_of(tmp_path: Path, doc: object, name: str) -> str:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(doc))
    return str(path)


def test_a_role_profile_applies_lists_shows_as_yaml_and_deletes(tmp_path: Path) -> None:
    data = tmp_path / "data"
    applied = prodproven("role", "apply", file_of(tmp_path, ML2, "ml2.yaml"), env_dir=data)
    assert applied.returncode == 0, applied.stderr
    assert "saved role profile ML engineer II" in applied.stdout
    listed = json.loads(prodproven("role", "list", "--json", env_dir=data).stdout)
    assert [p["name"] for p in listed["role_profiles"]] == ["ML engineer II"]
    shown = prodproven("role", "show", "ML engineer II", env_dir=data)
    assert yaml.safe_load(shown.stdout) == {**ML2, "framework": "builtin", "description": ""}
    again = prodproven("role", "apply", file_of(tmp_path, yaml.safe_load(shown.stdout), "x.yaml"),
                       env_dir=data)  # fmt: skip
    assert again.returncode == 0, again.stderr
    assert prodproven("role", "delete", "ML engineer II", env_dir=data).returncode == 0
    gone = prodproven("role", "show", "ML engineer II", env_dir=data)
    assert gone.returncode == 1 and "no role profile 'ML engineer II'" in gone.stderr


def test_a_framework_applies_for_the_firm_named(tmp_path: Path) -> None:
    data = tmp_path / "data"
    framework = file_of(tmp_path, framework_doc(), "acme.yaml")
    assert prodproven("role", "apply", framework, "--firm", "acme", env_dir=data).returncode == 0
    for_acme = json.loads(
        prodproven("role", "list", "--json", "--firm", "acme", env_dir=data).stdout
    )
    assert [f["id"] for f in for_acme["frameworks"]] == ["builtin", "acme"]
    default = json.loads(prodproven("role", "list", "--json", env_dir=data).stdout)
    assert [f["id"] for f in default["frameworks"]] == ["builtin"]
    shown = prodproven("role", "show", "--framework", "acme", "--firm", "acme", env_dir=data)
    assert yaml.safe_load(shown.stdout)["name"] == "Acme MLOps"
    deleted = prodproven("role", "delete", "--framework", "acme", "--firm", "acme", env_dir=data)
    assert deleted.returncode == 0, deleted.stderr


def test_a_file_that_cannot_be_saved_is_refused_naming_it_and_the_field(tmp_path: Path) -> None:
    bad = file_of(tmp_path, {**ML2, "requires": {"deployment": 6}}, "bad.yaml")
    refused = prodproven("role", "apply", bad, env_dir=tmp_path / "data", columns=200)
    assert refused.returncode == 1
    assert f"invalid role profile {bad}:" in refused.stderr
    assert "requires.deployment: Input should be less than or equal to 5" in refused.stderr
