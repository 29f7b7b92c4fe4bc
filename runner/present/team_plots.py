"""A team's dashboard drawn (docs/teams.md#the-team-page): the shading of each heatmap cell
by its state and level, the heatmap's legend, and the team's trend per quarter as an SVG line
chart, from plain values (``runner.present`` does not import the portal). Deterministic
strings, no scripts and nothing fetched from elsewhere."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from prodproven.runner.present.plots import Series, line_chart
from prodproven.runner.spec.parts import about_competency

LEVEL_COLORS = ("#eef4fc", "#cfe0f7", "#9ec1ee", "#5d95dd", "#2457c5")
"""The background of a current cell at levels 1 to 5: darker is higher."""
NO_LEVEL = "#dfe7f1"
"""A current cell of a competency no framework of the firm defines (a value, no level)."""
LAPSED = "background: #fbe3d6; color: #8a2c0d"
NEVER = (
    "background: repeating-linear-gradient(45deg, #f4f5f7 0 6px, #e6e8ec 6px 12px); color: #5b6475"
)


@dataclass(frozen=True)
class Shade:
    """A cell's inline style and what it means, for the legend."""

    meaning: str
    style: str


def shade(state: str, level: int | None) -> str:
    """The inline CSS of a heatmap cell in ``state`` (``current``, ``lapsed`` or ``never
    measured``) at ``level`` (1-5, None without one): blue by level when current (white text on
    the two darkest), peach when lapsed, grey stripes when never measured."""
    if state == "never measured":
        return NEVER
    if state == "lapsed":
        return LAPSED
    if level is None:
        return f"background: {NO_LEVEL}"
    ink = "#fff" if level >= 4 else "#1d2330"
    return f"background: {LEVEL_COLORS[level - 1]}; color: {ink}"


def legend() -> list[Shade]:
    """Every shading of :func:`shade`, lowest level first."""
    levels = [
        Shade(f"level {n}", f"background: {color}; color: {'#fff' if n >= 4 else '#1d2330'}")
        for n, color in enumerate(LEVEL_COLORS, start=1)
    ]
    return [*levels, Shade("lapsed", LAPSED), Shade("never measured", NEVER)]


def trend_chart(quarters: Sequence[str], values: Mapping[str, Sequence[float | None]]) -> str:
    """One line per competency of ``values`` (its value at the end of each of ``quarters``,
    oldest first, None for none), x in quarters before the last (0). Empty when there is no
    value at all."""
    if not any(v is not None for found in values.values() for v in found):
        return ""
    last = len(quarters) - 1
    series = [
        Series(about_competency(c)[0], [(float(i - last), v) for i, v in enumerate(found)])
        for c, found in values.items()
    ]
    return line_chart(
        "The team per quarter",
        series,
        x_label=f"quarters before this one ({quarters[0]} to {quarters[-1]})",
        y_label="mean value",
        y_max=100.0,
        x_span=float(last) or 1.0,
    )
