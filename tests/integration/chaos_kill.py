"""``python chaos_kill.py LIST INDEX -- ARGS``: the ``prodproven`` command with ARGS, killed with
SIGKILL right after step INDEX of LIST (``start``: start.START_STEPS, ``submit``:
submit.SUBMIT_STEPS, ``grade``: the grading pipeline's STEPS) has run. Used by
tests/integration/test_chaos.py; production code has no hook for it: the step is wrapped
here, in this process, before the command runs."""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Callable
from typing import Any

from prodproven.runner.cli import entry
from prodproven.runner.grading import pipeline
from prodproven.runner.lifecycle import start, submit

STEP_LISTS: dict[str, list[Callable[[Any], None]]] = {
    "start": start.START_STEPS,
    "submit": submit.SUBMIT_STEPS,
    "grade": pipeline.STEPS,
}


def killed_after(step: Callable[[Any], None]) -> Callable[[Any], None]:
    def then_die(job: Any) -> None:
        step(job)
        os.kill(os.getpid(), signal.SIGKILL)

    return then_die


def main(argv: list[str]) -> None:
    which, index, separator, *args = argv
    assert separator == "--", "usage: chaos_kill.py LIST INDEX -- ARGS"
    steps = STEP_LISTS[which]
    steps[int(index)] = killed_after(steps[int(index)])
    entry(args)


if __name__ == "__main__":
    main(sys.argv[1:])
