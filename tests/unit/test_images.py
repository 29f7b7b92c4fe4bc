"""Image recipes are package data beside the image builder, and the commands it runs on the
host (debootstrap, tar, pip download) are stopped when they overrun their time limit."""

from __future__ import annotations

import pytest

from prodproven.sandbox.errors import CommandTimeout, ImageError
from prodproven.sandbox.images import RECIPES, run_on_host


def test_the_builtin_recipes_are_package_data_beside_the_builder() -> None:
    for name in ("runtime", "lab", "grader", "mlflow"):
        assert (RECIPES / name / "Dockerfile").is_file()
    assert (RECIPES / "base" / "bootstrap.sh").is_file()


def test_a_host_command_past_its_time_limit_is_stopped_and_named() -> None:
    with pytest.raises(CommandTimeout, match=r"tar of the root fs did not finish within 0 s"):
        run_on_host(["sleep", "5"], "tar of the root fs", 0.2)


def test_a_failing_host_command_shows_its_output() -> None:
    with pytest.raises(ImageError, match=r"debootstrap failed \(exit 3\):\nno mirror"):
        run_on_host(["sh", "-c", "echo no mirror >&2; exit 3"], "debootstrap", 5)
