"""`challenge new`: a firm's challenge starts as a working, renamed copy of a built-in one."""

from __future__ import annotations

from pathlib import Path

import pytest

from prodproven.runner import plugins
from prodproven.runner.errors import ProdprovenError
from prodproven.runner.spec.scaffold import TEMPLATES, new_challenge
from tests.unit.test_cli import prodproven


@pytest.mark.parametrize("template", TEMPLATES)
def test_each_template_gives_a_challenge_that_loads(tmp_path: Path, template: str) -> None:
    made = new_challenge("acme-churn", template, tmp_path, plugins.catalog())
    assert (made.id, made.spec.version) == ("acme-churn", "0.1.0")
    assert made.root == tmp_path / "acme-churn"
    assert (made.root / "solution").is_dir() and (made.root / "brief.md").is_file()
    assert not list(made.root.rglob("__pycache__"))


def test_the_spec_keeps_its_comments_and_says_where_it_came_from(tmp_path: Path) -> None:
    made = new_challenge("acme-churn", "deploy-model", tmp_path, plugins.catalog())
    text = (made.root / "challenge.yaml").read_text()
    assert text.startswith("# acme-churn: made by `prodproven challenge new` from deploy-model")
    assert "# TODO" in text and "Format reference" in text


def test_an_existing_folder_is_not_overwritten(tmp_path: Path) -> None:
    (tmp_path / "acme-churn").mkdir()
    with pytest.raises(ProdprovenError, match="already exists"):
        new_challenge("acme-churn", "deploy-model", tmp_path, plugins.catalog())


@pytest.mark.parametrize("name", ["Acme", "a", "acme_churn", "../x", "9lives"])
def test_a_name_that_cannot_be_an_id_is_refused(tmp_path: Path, name: str) -> None:
    with pytest.raises(ProdprovenError, match="lowercase letters"):
        new_challenge(name, "deploy-model", tmp_path, plugins.catalog())


def test_challenge_new_from_the_command_line_defaults_to_deploy_model(tmp_path: Path) -> None:
    proc = prodproven("challenge", "new", "acme-churn", "--dir", str(tmp_path), env_dir=tmp_path)
    assert proc.returncode == 0, proc.stderr
    listed = prodproven("challenge", "list", "--json", env_dir=tmp_path)
    assert "acme-churn" not in listed.stdout  # a folder given by path, not yet on the search path
    found = prodproven("challenge", "pack", str(tmp_path / "acme-churn"), "--out",
                       str(tmp_path / "p.tar.gz"), env_dir=tmp_path)  # fmt: skip
    assert found.returncode == 0, found.stderr
