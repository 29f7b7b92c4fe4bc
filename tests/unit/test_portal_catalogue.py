"""The challenges the portal offers (runner/portal/catalogue.py): by id only, the ones that do
not load left out and counted."""

from __future__ import annotations

import shutil

import pytest

from prodproven.runner.config import Settings
from prodproven.runner.errors import ChallengeNotFound
from prodproven.runner.portal.core import Portal
from tests.conftest import BUILTIN


def test_the_tools_of_a_challenge_start_with_the_lab(portal: Portal) -> None:
    tools = portal.catalogue.tools(portal.catalogue.find_id("fix-drift"))
    assert tools[0] == "lab"
    assert "mlflow" in tools


def test_the_portal_finds_a_challenge_by_id_never_by_path(portal: Portal) -> None:
    for ref in (str(BUILTIN / "deploy-model"), "/etc", "../../etc/shadow", "/nonexistent"):
        with pytest.raises(ChallengeNotFound) as info:
            portal.catalogue.find_id(ref)
        assert ref not in str(info.value)


def test_one_bad_challenge_is_left_out_and_counted_and_not_quoted(
    portal: Portal, settings: Settings
) -> None:
    broken = settings.installed_challenges / "acme-broken"
    shutil.copytree(BUILTIN / "deploy-model", broken)
    (broken / "challenge.yaml").write_text("id: acme-broken\ntitle: [secret line\n")
    assert "deploy-model" in {c.id for c in portal.catalogue.all()}
    assert [p.id for p in portal.catalogue.problems()] == ["acme-broken"]
    with pytest.raises(ChallengeNotFound) as info:
        portal.catalogue.find_id("acme-broken")
    assert "secret" not in str(info.value)
