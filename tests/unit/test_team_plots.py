"""The team page's drawing (runner/present/team_plots.py): each heatmap state and level has
its own shading, all of them in the legend; the trend is one line per competency over the
quarters, with no script and nothing fetched from elsewhere."""

from __future__ import annotations

import re

from prodproven.runner.present.team_plots import legend, shade, trend_chart


def test_every_state_and_level_is_shaded_differently_and_in_the_legend() -> None:
    shades = [shade("current", level) for level in range(1, 6)]
    shades += [shade("current", None), shade("lapsed", None), shade("never measured", None)]
    assert len(set(shades)) == len(shades)
    assert "#fff" in shade("current", 5) and "#fff" not in shade("current", 1)  # readable
    shown = {s.meaning: s.style for s in legend()}
    assert list(shown) == [f"level {n}" for n in range(1, 6)] + ["lapsed", "never measured"]
    assert shown["lapsed"] == shade("lapsed", None)
    assert shown["level 3"] == shade("current", 3)


def test_the_trend_draws_one_line_per_competency_over_the_quarters() -> None:
    quarters = ["2026 Q2", "2026 Q3", "2026 Q4"]
    values = {"deployment": [None, 60.0, 70.0], "optimization": [None, None, 88.0]}
    svg = trend_chart(quarters, values)
    assert (
        svg.startswith("<svg")
        and "<script" not in svg
        and "http" not in svg.replace("http://www.w3.org/2000/svg", "")
    )
    assert len(re.findall(r"<polyline", svg)) == 1  # deployment's two points
    assert len(re.findall(r"<circle", svg)) >= 1  # optimization's one
    assert "deployment" in svg and "optimization" in svg
    assert "2026 Q2 to 2026 Q4" in svg
    assert trend_chart(quarters, values) == svg  # deterministic


def test_no_value_at_all_draws_nothing() -> None:
    assert trend_chart(["2026 Q4"], {}) == ""
    assert trend_chart(["2026 Q3", "2026 Q4"], {"deployment": [None, None]}) == ""
