"""Figures of the ``review``, ``fixes`` and ``claims`` graders' evidence: what a review found
and missed by severity (and the correct code it flagged), what the fixes repaired, and each
measured claim beside what the pull request said. Registered through the ``register_plots``
hook like the other built-in plots (runner/plugins.py lists this module).

Evidence is read defensively, as in builtin_plots.py: anything missing gives fewer figures.
"""

from __future__ import annotations

from typing import Any

from prodproven.runner.hookspecs import Figure, Plot, hookimpl
from prodproven.runner.present.builtin_plots import _dict, _list, _num
from prodproven.runner.present.plots import BAD, GOOD, PALETTE, Bars, Rule, bar_chart, figure

SEVERITIES = ("blocker", "major", "minor")


def _count(rows: list[dict[str, Any]], severity: str, key: str, value: bool) -> float:
    return float(sum(1 for r in rows if r.get("severity") == severity and r.get(key) is value))


def _by_severity(
    rows: list[dict[str, Any]], key: str
) -> tuple[list[str], list[float], list[float]]:
    """The severities present, and how many defects of each have ``key`` true and false."""
    groups = [s for s in SEVERITIES if any(r.get("severity") == s for r in rows)]
    yes = [_count(rows, s, key, True) for s in groups]
    no = [_count(rows, s, key, False) for s in groups]
    return groups, yes, no


def _review(name: str, ev: dict[str, Any]) -> list[Figure]:
    """Seeded defects found and missed by severity, beside the decoys left alone or flagged
    and the findings that matched nothing."""
    defects = [_dict(d) for d in _list(ev.get("defects"))]
    if not defects:
        return []
    groups, found, missed = _by_severity(defects, "found")
    decoys = [_dict(d) for d in _list(ev.get("decoys"))]
    flagged = float(sum(1 for d in decoys if d.get("flagged")))
    unmatched = _num(ev.get("unmatched_count")) or 0.0
    groups += ["decoys", "other findings"]
    bars = [
        Bars("found / left alone", [*found, len(decoys) - flagged, None], GOOD),
        Bars("missed / flagged", [*missed, flagged, unmatched], BAD),
    ]
    title = f"{name}: seeded defects and decoys"
    svg = bar_chart(title, groups, bars, y_label="count", value_format=lambda v: f"{v:.0f}")
    caption = (
        f"found {sum(found):.0f} of {len(defects)} seeded defects; "
        f"{flagged:.0f} of {len(decoys)} decoys flagged; {unmatched:.0f} findings matched nothing"
    )
    recall, precision = _num(ev.get("recall")), _num(ev.get("precision"))
    if recall is not None and precision is not None:
        caption += f"; recall {recall:.2f}, precision {precision:.2f}"
    return [figure(name, "defects", title, svg, caption)]


def _fixes(name: str, ev: dict[str, Any]) -> list[Figure]:
    """Seeded defects fixed and left by severity, beside the feature's tests."""
    defects = [_dict(d) for d in _list(ev.get("defects"))]
    if not defects:
        return []
    groups, fixed, left = _by_severity(defects, "fixed")
    feature = _dict(ev.get("feature"))
    total = _num(feature.get("total"))
    failing = float(len(_list(feature.get("failing"))))
    if total:
        groups.append("feature tests")
        fixed.append(total - failing)
        left.append(failing)
    bars = [Bars("fixed / passing", fixed, GOOD), Bars("not fixed / failing", left, BAD)]
    title = f"{name}: defects fixed on the branch"
    svg = bar_chart(title, groups, bars, y_label="count", value_format=lambda v: f"{v:.0f}")
    done = sum(1 for d in defects if d.get("fixed"))
    caption = f"{done} of {len(defects)} seeded defects fixed"
    if total:
        caption += f"; {total - failing:.0f} of {total:.0f} feature tests pass"
    return [figure(name, "fixes", title, svg, caption)]


def _claims(name: str, ev: dict[str, Any]) -> list[Figure]:
    """Each measured numeric claim: the head branch's value relative to the base's (base = 1),
    beside the bound the claim allows."""
    measured = [
        (c, base, head)
        for c in map(_dict, _list(ev.get("claims")))
        if (base := _num(c.get("base"))) and (head := _num(c.get("head"))) is not None
    ]
    if not measured:
        return []
    groups = [str(c.get("id", "?")) for c, _, _ in measured]
    held = [head / base if c.get("holds") else None for c, base, head in measured]
    broken = [None if c.get("holds") else head / base for c, base, head in measured]
    bars = [
        Bars("base", [1.0] * len(measured), PALETTE[5]),
        Bars("head, claim holds", held, GOOD),
        Bars("head, claim false", broken, BAD),
    ]
    title = f"{name}: the pull request's claims, measured"
    svg = bar_chart(title, groups, bars, y_label="head / base", refs=[Rule(1.0, "base")],
                    value_format=lambda v: f"{v:.2f}")  # fmt: skip
    false = [str(c.get("id")) for c, _, _ in measured if not c.get("holds")]
    called = {str(c) for c in _list(ev.get("called_out_false"))}
    caption = "every measured claim holds" if not false else (
        f"false: {', '.join(false)}; called out in the review: "
        f"{', '.join(f for f in false if f in called) or 'none'}"
    )  # fmt: skip
    return [figure(name, "claims", title, svg, caption)]


@hookimpl
def register_plots() -> list[Plot]:
    return [Plot("review", _review), Plot("fixes", _fixes), Plot("claims", _claims)]
