"""What every service cheat shares: which graders a trick takes down, and how a cheat server
takes the place of the candidate's service.

A service cheat replaces the start script the spec's service command names, so the cheat runs
wherever the service runs: alone, or as each replica of a declared deployment.
"""

from __future__ import annotations

import json
from typing import Any

from prodproven.runner.gate.cheats import CheatContext, NotApplicable
from prodproven.runner.spec.parts import GraderSpec


def counting_on(ctx: CheatContext, attacked: list[GraderSpec]) -> list[GraderSpec]:
    """``attacked`` and every grader that requires one of them, in spec order: a grader whose
    requirement failed is not run and scores 0 too (``requires`` names earlier graders, so
    one pass in order catches chains)."""
    names = {g.name for g in attacked}
    for grader in ctx.challenge.spec.graders:
        if names.intersection(grader.requires):
            names.add(grader.name)
    return [g for g in ctx.challenge.spec.graders if g.name in names]


def start_script(ctx: CheatContext) -> str | NotApplicable:
    """The workspace path of the script the service command runs, or NotApplicable when the
    service does not start from the workspace."""
    service = ctx.challenge.spec.service
    if service is None:
        return NotApplicable("the challenge runs no candidate service")
    script = next((arg for arg in service.command if arg.startswith("/workspace/")), None)
    if script is None:
        command = " ".join(service.command)
        return NotApplicable(f"the service runs `{command}` from the image, not the workspace")
    return script.removeprefix("/workspace/")


def replace_service(ctx: CheatContext, rel: str, server: bytes, config: dict[str, Any]) -> None:
    """Make the start script ``rel`` run the Python ``server`` with ``config`` (both written
    to .cheat/)."""
    ctx.write(".cheat/config.json", json.dumps(config))
    ctx.write(".cheat/server.py", server)
    if rel.endswith(".py"):
        launcher = (
            "import runpy, sys\n"
            'sys.argv = ["server.py", "/workspace/.cheat/config.json"]\n'
            'runpy.run_path("/workspace/.cheat/server.py", run_name="__main__")\n'
        )
    else:
        launcher = (
            '#!/bin/sh\nexec "$(command -v python3 || command -v python)" '
            "/workspace/.cheat/server.py /workspace/.cheat/config.json\n"
        )
    ctx.write(rel, launcher, executable=True)
