"""``challenge validate``: the reference solution must land in its band and the untouched
starter in its own, or the challenge is not fit to give to a candidate.

Challenges with incidents run the reference against every fault of the catalogue (a responder
that only handles the drawn fault is not a reference), and, when the spec asks for it, the
reference again started late: a slow responder must score clearly lower than a prompt one.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runner import schedule
from runner.challenge import Challenge
from runner.lifecycle import RESPONDER, Runner
from runner.store import utcnow


@dataclass(frozen=True)
class Check:
    label: str
    submission: Path | None
    fault: str | None = None


def validate_challenge(runner: Runner, challenge: Challenge) -> dict[str, Any]:
    """Run every check; returns the verdict document (``ok`` and one entry per check)."""
    spec = challenge.spec
    bands = spec.validation
    solution = challenge.path("solution")
    reference = solution if solution.is_dir() else None
    faults: list[str | None] = [f.name for f in spec.faults] if spec.schedule else [None]
    results: list[dict[str, Any]] = []
    scores: dict[str | None, float] = {}
    for fault in faults:
        label = "reference" if fault is None else f"reference ({fault})"
        check = Check(label, reference, fault)
        entry = _run(runner, challenge, check, str(bands.reference), bands.reference.contains)
        scores[fault] = entry["score"]
        results.append(entry)
    starter = Check("starter", None)
    results.append(_run(runner, challenge, starter, str(bands.starter), bands.starter.contains))
    if (
        bands.slow is not None
        and reference is not None
        and (reference / RESPONDER).is_file()
        and spec.schedule
    ):
        drawn = schedule.plan(challenge, utcnow(), variant=None, scripted=True)[0].fault
        with tempfile.TemporaryDirectory() as tmp:
            slow = _delayed(reference, Path(tmp) / "slow", bands.slow.delay_s)
            limit = scores[drawn] - bands.slow.margin
            label = f"reference {bands.slow.delay_s:g} s late ({drawn})"
            check = Check(label, slow, drawn)
            results.append(
                _run(runner, challenge, check, f"<= {limit:.1f}", lambda score: score <= limit)
            )
    return {
        "challenge": challenge.id,
        "version": spec.version,
        "ok": all(r["ok"] for r in results),
        "checks": results,
    }


def _run(
    runner: Runner, challenge: Challenge, check: Check, band: str, ok: Callable[[float], bool]
) -> dict[str, Any]:
    """Run ``check`` as a scripted run; its entry in the verdict, ``ok`` judged on the score."""
    runner.report(f"validating: {check.label} submission")
    run = runner.run_scripted(
        challenge, check.submission, candidate=f"validate-{check.label}", fault=check.fault
    )
    score = float(run.score or 0.0)
    return {
        "submission": check.label,
        "fault": check.fault,
        "run_id": run.id,
        "score": score,
        "band": band,
        "ok": ok(score),
    }


def _delayed(solution: Path, dest: Path, delay_s: float) -> Path:
    """A copy of ``solution`` whose responder waits ``delay_s`` before doing the same work."""
    shutil.copytree(solution, dest)
    script = dest / RESPONDER
    prompt = script.with_name("respond-prompt.sh")
    script.rename(prompt)
    prompt_rel = Path(RESPONDER).with_name(prompt.name).as_posix()
    script.write_text(f"#!/bin/bash\nsleep {delay_s:g}\nexec bash {prompt_rel}\n")
    return dest
