"""``challenge validate``: the reference solution must land in its band and the untouched
starter in its own, or the challenge is not fit to give to a candidate."""

from __future__ import annotations

from typing import Any

from runner.challenge import Band, Challenge
from runner.lifecycle import Runner


def validate_challenge(runner: Runner, challenge: Challenge) -> dict[str, Any]:
    """Run both checks; returns the verdict document (``ok`` and one entry per check)."""
    bands = challenge.spec.validation
    solution = challenge.path("solution")
    checks: list[tuple[str, Any, Band]] = [
        ("reference", solution if solution.is_dir() else None, bands.reference),
        ("starter", None, bands.starter),
    ]
    results = []
    for label, submission, band in checks:
        runner.report(f"validating: {label} submission")
        run = runner.run_scripted(challenge, submission, candidate=f"validate-{label}")
        score = float(run.score or 0.0)
        results.append(
            {
                "submission": label,
                "run_id": run.id,
                "score": score,
                "band": str(band),
                "ok": band.contains(score),
            }
        )
    return {
        "challenge": challenge.id,
        "version": challenge.spec.version,
        "ok": all(r["ok"] for r in results),
        "checks": results,
    }
