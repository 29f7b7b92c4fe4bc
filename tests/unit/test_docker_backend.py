"""Removing a run's volumes through the engine: a volume slow to delete (many files on a slow
disk) does not hold the submit or the grading up, a refusal is an error naming it."""

from __future__ import annotations

import time

import pytest

from prodproven.sandbox import docker_backend
from prodproven.sandbox.docker_backend import remove_volumes
from prodproven.sandbox.errors import ContainerError


class Volume:
    def __init__(self, seconds: float = 0.0, refusal: Exception | None = None) -> None:
        self.seconds, self.refusal, self.removed = seconds, refusal, False

    def remove(self, force: bool) -> None:
        time.sleep(self.seconds)
        if self.refusal is not None:
            raise self.refusal
        self.removed = True


def test_a_volume_slow_to_delete_does_not_hold_up_removing_the_run(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(docker_backend, "VOLUME_REMOVAL_WAIT_S", 0.2)
    slow = Volume(seconds=2.0)
    began = time.monotonic()
    assert remove_volumes([slow]) == 1
    assert time.monotonic() - began < 1.5 and not slow.removed


def test_volumes_quick_to_delete_are_gone_when_removing_returns() -> None:
    volumes = [Volume(), Volume()]
    assert remove_volumes(list(volumes)) == 2
    assert all(v.removed for v in volumes)


def test_a_volume_the_engine_refuses_to_remove_is_an_error_naming_the_refusal() -> None:
    with pytest.raises(ContainerError, match="cannot remove a volume: volume is in use"):
        remove_volumes([Volume(refusal=RuntimeError("volume is in use"))])
