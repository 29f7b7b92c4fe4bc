"""``python -m prodproven.runner.cli``: the ``prodproven`` command, for subprocesses and tests."""

from prodproven.runner.cli import entry

entry()
