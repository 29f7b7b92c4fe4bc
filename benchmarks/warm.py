"""Warm starts in the scale benchmark (``benchmarks/run.py --only scale``): an interactive
run's start-to-ready when its challenge keeps a warm pool of one pod (``lifecycle/pool.py``,
issue 20's goal: at or under :data:`GOAL_S` for every built-in challenge).

Before each timed start the pool is filled as ``prodproven pool fill`` does it
(``Pool.fill``, blocking until the pod is ready, untimed), then the start is timed exactly as
a cold one (``Bench.timed_start``). The runner's own settings keep no pool (``run.py``), so
no detached refill runs during a start. The pool is drained after.
"""

from __future__ import annotations

import argparse
import copy
import statistics
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

from prodproven.runner.errors import ProdprovenError
from prodproven.runner.spec.challenge import Challenge

if TYPE_CHECKING:
    from benchmarks.scale import Bench, Idle

GOAL_S = 3.0
"""The candidate's wait after "Start" with a pool of 1 (issue 20 §1)."""
FILLED_SETTLE_S = 3.0
"""How long a pod just made is left alone before the start that takes it is timed."""


HEADERS = ("pooled s", f"goal <= {GOAL_S:.0f} s")
"""The idle table's columns for warm starts (:func:`cells`)."""
NOTE = "pooled s: with a warm pool of 1, its median the goal"


def add_options(group: argparse._ArgumentGroup) -> None:
    group.add_argument(
        "--pooled",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also time --starts starts with a warm pool of 1 (default: yes)",
    )


def goal_met(pooled_s: Sequence[float]) -> bool | None:
    """Whether the median pooled start is at or under :data:`GOAL_S`; None when none was
    measured."""
    return statistics.median(pooled_s) <= GOAL_S if pooled_s else None


def cells(pooled_s: Sequence[float]) -> tuple[float | str, str]:
    """The idle table's warm-start cells: the median pooled start and whether it meets the
    goal ("yes", "no"; "-" both when not measured)."""
    if not pooled_s:
        return "-", "-"
    return statistics.median(pooled_s), "yes" if goal_met(pooled_s) else "no"


def figures(idle: Idle) -> dict[str, float | bool | None]:
    """An idle challenge's start medians, cold and pooled, and the goal's verdict, for --json
    (None: not measured)."""
    return {
        "start_median_s": statistics.median(idle.start_s) if idle.start_s else None,
        "pooled_median_s": statistics.median(idle.pooled_s) if idle.pooled_s else None,
        "goal_s": GOAL_S,
        "goal_met": goal_met(idle.pooled_s),
    }


def pooled_starts(bench: Bench, challenge: Challenge, starts: int) -> list[float]:
    """Start-to-ready of ``starts`` starts of ``challenge``, each taking the one warm pod made
    for it just before. Raises ProdprovenError when no pod could be made (no room) or a start
    did not take the pod made for it."""
    pool = copy.copy(bench.runner.pool)  # the runner's pool, sized 1 for this challenge
    pool.settings = bench.settings.model_copy(update={"warm_pool": f"{challenge.id}=1"})
    waits: list[float] = []
    try:
        for _ in range(starts):
            made = pool.fill(challenge)
            if len(made) != 1:
                raise ProdprovenError(
                    f"benchmark: the warm pool of {challenge.id} made {len(made)} pods, not 1"
                )
            time.sleep(FILLED_SETTLE_S)
            run_id, wait = bench.timed_start(challenge)
            if run_id != made[0]:
                raise ProdprovenError(
                    f"benchmark: a start of {challenge.id} made run {run_id} instead of "
                    f"taking warm pod {made[0]}"
                )
            waits.append(wait)
    finally:
        pool.drain(challenge.id)
    return waits
