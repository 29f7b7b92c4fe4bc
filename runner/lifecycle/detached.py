"""Starting a ``prodproven`` command as a detached background process: the data directory's
supervisor (``supervisor.spawn``) and a warm pool's filler (``pool.spawn_fill``), which must
outlive the short-lived command or web request that asked for them."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from prodproven.runner.config import Settings


def start_detached(settings: Settings, args: Sequence[str], log: Path) -> int:
    """Run ``prodproven ARGS`` on ``settings``' data directory in a session of its own, its
    output appended to ``log``; returns its pid."""
    log.parent.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "PRODPROVEN_DATA_DIR": str(settings.data_dir)}
    with log.open("ab") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "prodproven.runner.cli", *args],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
    return process.pid
