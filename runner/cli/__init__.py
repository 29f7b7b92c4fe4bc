"""The command line interface, ``prodproven``."""

from __future__ import annotations

import sys
from collections.abc import Sequence


def entry(argv: Sequence[str] | None = None) -> None:
    """The ``prodproven`` command. Its modules are imported here, inside the guard, so a
    Ctrl-C while they load ends it as one at any later moment does: "interrupted", exit 130."""
    try:
        from prodproven.runner.cli.main import main as run
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        sys.exit(130)
    run(argv)
