"""The challenges the portal offers (runner/portal/catalogue.py)."""

from __future__ import annotations

from prodproven.runner.portal.core import Portal


def test_the_tools_of_a_challenge_start_with_the_lab(portal: Portal) -> None:
    tools = portal.catalogue.tools(portal.catalogue.find("fix-drift"))
    assert tools[0] == "lab"
    assert "mlflow" in tools
