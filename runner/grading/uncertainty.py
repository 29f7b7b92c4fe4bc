"""Every score with its measured uncertainty (documented in docs/scoring.md).

Two measurements feed it, both taken from repeats, never assumed:

- *within-run*: a grader that repeats its measurement inside one grading reports the standard
  error of its score (``GradeResult.sem``; the load grader scores each window on its own);
- *re-grading*: ``challenge validate`` grades the reference run several times from its one
  archive and records each grader's standard deviation across those gradings for the
  challenge's version (:func:`record_regrading`); every later grading of that version reads it.

A grader's standard error is the larger of the two (re-grading spread already contains the
within-run noise, so they are not added). The total's standard error propagates them through
the weighted mean, ``SE = 100·sqrt(Σ (w_i·se_i)²) / Σ w_i``, times the requirement cap when the
run missed a requirement, and the 90% interval is ``score ± 1.645·SE`` clipped to 0..100.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from prodproven.graders.curves import Z90
from prodproven.runner.grading.scoring import Outcome

LEVEL = 0.9
"""The interval's confidence level; its half-width is ``Z90`` standard errors."""


@dataclass(frozen=True)
class Regrading:
    """Each grader's standard deviation (score 0..1) across the gate's gradings of one
    archive, for one challenge version."""

    challenge: str
    version: str
    gradings: int
    measured_at: str
    sd: Mapping[str, float]


@dataclass(frozen=True)
class Uncertainty:
    sem: float
    interval: tuple[float, float]
    basis: str


def interval(score: float, sem: float) -> tuple[float, float]:
    """The 90% interval of ``score`` (0..100) with standard error ``sem``, clipped."""
    return (round(max(0.0, score - Z90 * sem), 1), round(min(100.0, score + Z90 * sem), 1))


def of_score(
    outcomes: Sequence[Outcome], score: float, scale: float, regrading: Regrading | None
) -> Uncertainty:
    """The uncertainty of a run's ``score``: ``scale`` is what the score formula multiplied the
    weighted mean by (1, or the requirement cap)."""
    total = sum(o.weight for o in outcomes)
    regraded = dict(regrading.sd) if regrading else {}
    variance = 0.0
    within: list[str] = []
    for o in outcomes:
        se = max(o.result.sem or 0.0, regraded.get(o.name, 0.0))
        variance += (o.weight * se) ** 2
        if o.result.sem is not None:
            within.append(o.name)
    sem = round(100.0 * scale * math.sqrt(variance) / total, 2) if total else 0.0
    parts = []
    if within:
        parts.append(f"within-run repeats of {', '.join(within)}")
    if regrading is not None:
        parts.append(
            f"re-grading spread from the gate ({regrading.gradings} gradings of one archive, "
            f"{regrading.measured_at})"
        )
    basis = "; ".join(parts) or (
        "no repeated measurement: the graders are deterministic and the challenge's gate has "
        "not measured re-grading spread on this installation"
    )
    return Uncertainty(sem, interval(score, sem), basis)


def regrading_path(data_dir: Path, challenge: str, version: str) -> Path:
    return data_dir / "noise" / f"{challenge}-{version}.json"


def record_regrading(data_dir: Path, regrading: Regrading) -> Path:
    """Store the gate's re-grading spread for later gradings of this challenge version."""
    path = regrading_path(data_dir, regrading.challenge, regrading.version)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    partial.write_text(
        json.dumps(
            {
                "challenge": regrading.challenge,
                "version": regrading.version,
                "gradings": regrading.gradings,
                "measured_at": regrading.measured_at,
                "sd": dict(regrading.sd),
            },
            indent=2,
        )
    )
    os.replace(partial, path)
    return path


def load_regrading(data_dir: Path, challenge: str, version: str) -> Regrading | None:
    """The recorded re-grading spread of this challenge version, or None (also when the file
    is unreadable: a missing measurement widens nothing it cannot justify)."""
    path = regrading_path(data_dir, challenge, version)
    try:
        raw = json.loads(path.read_text())
        return Regrading(
            challenge=str(raw["challenge"]),
            version=str(raw["version"]),
            gradings=int(raw["gradings"]),
            measured_at=str(raw["measured_at"]),
            sd={str(k): float(v) for k, v in dict(raw["sd"]).items()},
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None
