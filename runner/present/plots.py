"""Self-contained SVG charts, and the figures of a graded run drawn from its graders' evidence.

Pure string building, no JavaScript or external resources: an SVG pasted into an HTML file works
offline. Text from evidence is escaped and output is deterministic. ``Figure.title`` and
``Figure.caption`` are plain text; ``Figure.svg`` is markup with the title as its ``<title>``
only.

Which figures a grader gets is up to the plots registered for its kind through the
``register_plots`` hook (docs/plugins.md); the built-in ones are in ``builtin_plots.py``.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from html import escape
from itertools import groupby
from typing import Any

from prodproven.runner.grading.result import RunResult
from prodproven.runner.hookspecs import Figure, Plot
from prodproven.runner.people.track_record import DAYS_PER_MONTH, LEVELS
from prodproven.runner.spec.parts import about_competency

log = logging.getLogger(__name__)

WIDTH, HEIGHT = 640, 220
LEFT, RIGHT, TOP, BOTTOM = 56, 16, 28, 36
"""Margins around the plot area: tick labels left and below, the legend above."""
PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#7f7f7f")
INK, GRID, BAD, GOOD = "#333333", "#e3e3e3", "#d62728", "#2ca02c"
CHAR_W = 6.2
"""Estimated width of one character of 11px sans-serif, for laying out labels."""
Scale = Callable[[float], float]


@dataclass(frozen=True)
class Series:
    """Named (x, y) points drawn as a line (a None y breaks it) or, with ``dots``, as dots."""

    name: str
    points: Sequence[tuple[float, float | None]]
    color: str = ""
    dots: bool = False


@dataclass(frozen=True)
class Bars:
    """A named value for each group of a bar chart, in order (None: no bar in that group)."""

    name: str
    values: Sequence[float | None]
    color: str = ""


@dataclass(frozen=True)
class Rule:
    """A labelled line across the plot: horizontal at ``at`` on the y axis (a dashed reference
    line: an SLO, a target) or vertical at ``at`` on the x axis (a marker: an injection)."""

    at: float
    label: str
    color: str = INK


@dataclass(frozen=True)
class Band:
    """A shaded stretch of the x axis (an unhealthy window); ``label`` is its tooltip."""

    start: float
    end: float
    label: str = ""


# --- scales and SVG pieces -------------------------------------------------------------------


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """About ``count`` round ticks (steps of 1, 2, 2.5 or 5 × 10^k) from <= low to >= high."""
    if not high > low:
        high = low + (abs(low) or 1.0)
    raw = (high - low) / max(1, count - 1)
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw * 0.999)
    first = math.floor(low / step + 1e-9) * step
    n = math.ceil((high - first) / step - 1e-9)
    return [round(first + i * step, 9) + 0.0 for i in range(n + 1)]


def _scale(low: float, high: float, start: float, end: float) -> Scale:
    return lambda v: start + (v - low) / (high - low) * (end - start)


def _fmt(value: float) -> str:
    return f"{round(value, 9) + 0.0:g}"


def _el(tag: str, body: str = "", **attrs: Any) -> str:
    """An SVG element: ``stroke_width=1`` is written stroke-width="1", floats rounded to two
    decimals (the same input always prints the same string), values escaped; ``body`` is markup."""
    text = "".join(
        f' {k.replace("_", "-")}="{escape(f"{round(v, 2):g}" if isinstance(v, float) else str(v))}"'
        for k, v in attrs.items()
    )
    return f"<{tag}{text}>{body}</{tag}>" if body else f"<{tag}{text}/>"


def _text(x: float, y: float, text: str, size: int = 11, **attrs: Any) -> str:
    return _el("text", escape(text), x=x, y=y, font_size=size, **attrs)


def _label(x: float, y: float, text: str, color: str, anchor: str = "start") -> str:
    """A small label with a white outline, readable over lines."""
    halo = {"stroke": "#fff", "stroke_width": 3, "paint_order": "stroke"}
    return _text(x, y, text, 10, fill=color, text_anchor=anchor, **halo)


def _hline(y: float, color: str, **attrs: Any) -> str:
    return _el("line", x1=LEFT, y1=y, x2=WIDTH - RIGHT, y2=y, stroke=color, **attrs)


def _axes(sy: Scale, yticks: list[float], x_label: str, y_label: str) -> list[str]:
    middle = (TOP + HEIGHT - BOTTOM) / 2
    out = [_hline(sy(v), GRID) for v in yticks]
    out += [_text(LEFT - 6, sy(v) + 4, _fmt(v), 10, text_anchor="end") for v in yticks]
    out.append(_hline(HEIGHT - BOTTOM, INK))
    out.append(_text((LEFT + WIDTH - RIGHT) / 2, HEIGHT - 4, x_label, text_anchor="middle"))
    rotate = f"rotate(-90 14 {middle:.1f})"
    return [*out, _text(14, middle, y_label, text_anchor="middle", transform=rotate)]


SWATCHES: dict[str, Callable[[float, str], str]] = {
    "line": lambda x, c: _el("line", x1=x, y1=13, x2=x + 14, y2=13, stroke=c, stroke_width=2),
    "dot": lambda x, c: _el("circle", cx=x + 7, cy=13, r=3, fill=c),
    "box": lambda x, c: _el("rect", x=x, y=8, width=14, height=10, fill=c, fill_opacity=0.3),
    "bar": lambda x, c: _el("rect", x=x, y=8, width=14, height=10, fill=c),
}


def _svg(title: str, body: list[str], legend: Sequence[tuple[str, str, str]]) -> str:
    """The whole SVG; above the plot, a legend of (label, colour, SWATCHES key) if it has 2+."""
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'width="{WIDTH}" height="{HEIGHT}" role="img" font-family="sans-serif" '
        'style="max-width:100%;height:auto">',
        _el("title", escape(title)),
        _el("rect", width=WIDTH, height=HEIGHT, fill="#fff"),
        *body,
    ]
    x = float(LEFT)
    for label, color, kind in legend if len(legend) > 1 else ():
        out += [SWATCHES[kind](x, color), _text(x + 18, 17, label, fill=INK)]
        x += len(label) * CHAR_W + 32
    return "\n".join([*out, "</svg>"])


def _refs(sy: Scale, refs: Sequence[Rule]) -> list[str]:
    out = []
    for r in refs:
        y = sy(r.at)
        out.append(_hline(y, r.color, stroke_width=1.5, stroke_dasharray="6 4"))
        below = y - TOP < 14  # no room above the line at the top of the plot area
        out.append(_label(WIDTH - RIGHT - 4, y + 12 if below else y - 4, r.label, r.color, "end"))
    return out


def _markers(sx: Scale, markers: Sequence[Rule]) -> list[str]:
    """Vertical lines; labels at the top, moved down a row where they would overlap."""
    out: list[str] = []
    row_ends: list[float] = []
    for m in sorted(markers, key=lambda m: m.at):
        x, width = sx(m.at), len(m.label) * CHAR_W * 0.9 + 4
        flip = x + 3 + width > WIDTH - RIGHT  # too close to the right edge: label on the left
        lo = x - 3 - width if flip else x
        row = next((i for i, end in enumerate(row_ends) if lo >= end), len(row_ends))
        row_ends[row:] = [lo + width + 3, *row_ends[row + 1 :]]
        y = TOP + 11 + 12 * row
        out.append(_el("line", x1=x, y1=TOP, x2=x, y2=HEIGHT - BOTTOM, stroke=m.color))
        out.append(
            _label(x - 3 if flip else x + 3, y, m.label, m.color, "end" if flip else "start")
        )
    return out


def _colors(given: Sequence[str]) -> list[str]:
    return [c or PALETTE[i % len(PALETTE)] for i, c in enumerate(given)]


# --- chart builders --------------------------------------------------------------------------


def line_chart(
    title: str,
    series: Sequence[Series],
    *,
    x_label: str,
    y_label: str,
    refs: Sequence[Rule] = (),
    markers: Sequence[Rule] = (),
    bands: Sequence[Band] = (),
    band_name: str = "unhealthy",
    y_max: float = 0.0,
    x_span: float = 1.0,
) -> str:
    """Lines (or dots) over a numeric x axis at least ``x_span`` wide, y from 0 (to at least
    ``y_max``), with horizontal reference lines, labelled vertical markers and shaded bands; a
    legend when there is more than one item."""
    series = [s for s in series if any(y is not None for _, y in s.points)]
    xs = [x for s in series for x, _ in s.points] + [m.at for m in markers] or [0.0]
    ys = [0.0, y_max] + [y for s in series for _, y in s.points if y is not None]
    ys += [r.at for r in refs]
    x0, x1, yt = min(xs), max(max(xs), min(xs) + x_span), nice_ticks(min(ys), max(ys))
    xt = [t for t in nice_ticks(x0, x1, 7) if x0 <= t <= x1]
    sx, sy = _scale(x0, x1, LEFT, WIDTH - RIGHT), _scale(yt[0], yt[-1], HEIGHT - BOTTOM, TOP)
    body = []
    for b in bands:
        lo, hi = sx(max(b.start, x0)), sx(min(b.end, x1))
        size = {"width": max(hi - lo, 1.0), "height": HEIGHT - TOP - BOTTOM}
        tip = _el("title", escape(b.label)) if b.label else ""
        body.append(_el("rect", tip, x=lo, y=TOP, **size, fill=BAD, fill_opacity=0.15))
    body += _axes(sy, yt, x_label, y_label)
    body += [_text(sx(v), HEIGHT - BOTTOM + 14, _fmt(v), 10, text_anchor="middle") for v in xt]
    colors = _colors([s.color for s in series])
    for s, color in zip(series, colors, strict=True):
        for _, stretch in groupby(s.points, key=lambda p: p[1] is not None):
            run = [(x, y) for x, y in stretch if y is not None]  # empty for a stretch of None
            if s.dots or len(run) <= 1:
                body += [_el("circle", cx=sx(x), cy=sy(y), r=2.5, fill=color) for x, y in run]
            else:
                line = " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in run)
                style: dict[str, Any] = {"stroke_width": 1.5, "stroke_linejoin": "round"}
                body.append(_el("polyline", points=line, fill="none", stroke=color, **style))
    body += _refs(sy, refs) + _markers(sx, markers)
    legend = [(s.name, c, "dot" if s.dots else "line") for s, c in zip(series, colors, strict=True)]
    return _svg(title, body, legend + ([(band_name, BAD, "box")] if bands else []))


def bar_chart(
    title: str,
    groups: Sequence[str],
    bars: Sequence[Bars],
    *,
    y_label: str,
    refs: Sequence[Rule] = (),
    y_max: float = 0.0,
    value_format: Callable[[float], str] = _fmt,
) -> str:
    """Grouped bars from 0, one colour per ``Bars``, each labelled with its value; the bars
    present in a group are centred under its label."""
    values = [v for b in bars for v in b.values if v is not None] + [r.at for r in refs]
    yt = nice_ticks(0.0, max([y_max, *values]) or 1.0)
    sy = _scale(yt[0], yt[-1], HEIGHT - BOTTOM, TOP)
    body = _axes(sy, yt, "", y_label) + _refs(sy, refs)
    colors = _colors([b.color for b in bars])
    slot = (WIDTH - LEFT - RIGHT) / max(1, len(groups))
    width = min(48.0, slot * 0.7 / max(1, len(bars)))
    for g, group in enumerate(groups):
        pairs = zip(bars, colors, strict=True)
        present = [(v, b.name, c) for b, c in pairs if (v := b.values[g]) is not None]
        center = LEFT + slot * (g + 0.5)
        body.append(_text(center, HEIGHT - BOTTOM + 16, group, text_anchor="middle"))
        for k, (value, name, color) in enumerate(present):
            x = center + (k - len(present) / 2) * (width + 4) + 2
            top, label = sy(value), value_format(value)
            tip = _el("title", escape(f"{name}: {label}"))
            body.append(_el("rect", tip, x=x, y=top, width=width, height=sy(0) - top, fill=color))
            body.append(_label(x + width / 2, top - 3, label, INK, "middle"))
    return _svg(title, body, [(b.name, c, "bar") for b, c in zip(bars, colors, strict=True)])


# --- a run's figures ---------------------------------------------------------------------------


def figure(grader: str, key: str, title: str, svg: str, caption: str) -> Figure:
    """A figure of ``grader``, with an id unique in the run (``<grader>-<key>``, slugged)."""
    slug = re.sub(r"[^a-z0-9]+", "-", f"{grader}-{key}".lower())
    return Figure(slug, title, grader, svg, caption)


def run_plots(result: RunResult, plots: Sequence[Plot]) -> list[Figure]:
    """Every figure the run's evidence supports, in grader order, then in the order of
    ``plots``. A plot that raises is logged and shown as a figure naming the grader and the
    error, never dropped."""
    figures: list[Figure] = []
    for grader in result.graders:
        for plot in (p for p in plots if p.kind == grader.kind):
            try:
                figures += plot.draw(grader.name, grader.evidence)
            except Exception as exc:  # a plot's bug must show on the page, never cost the page
                log.exception("the plot of grader %s (%s) failed", grader.name, grader.kind)
                failed = figure(grader.name, "failed", f"{grader.name}: no plot", "", "")
                error = f"the plot of grader {grader.name} failed: {type(exc).__name__}: {exc}"
                figures.append(replace(failed, error=error))
    return figures


def track_record_plot(history: dict[str, list[tuple[datetime, float]]], since: datetime) -> str:
    """Each competency's value over time (months since ``since``), with the level floors."""
    series = [
        Series(
            about_competency(name)[0],
            [((at - since).days / DAYS_PER_MONTH, value) for at, value in points],
            dots=len(points) < 2,
        )
        for name, points in sorted(history.items())
    ]
    refs = [Rule(floor, label) for floor, label in LEVELS if floor > 0]
    return line_chart(
        "Competencies over time",
        series,
        x_label="months since the first run",
        y_label="value",
        refs=refs,
    )
