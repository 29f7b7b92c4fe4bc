"""Admission with real pods: on a machine declared to hold one deploy-model run, a second
start (from another runner, as another process would) waits in ``queued`` with its place
until the first run is cancelled, then goes on to run."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest

from prodproven.runner import plugins
from prodproven.runner.config import Settings
from prodproven.runner.lifecycle.admission import Place, places
from prodproven.runner.runs.store import Run, Status
from prodproven.runner.spec.challenge import load_challenge
from prodproven.sandbox.images import ImageBuilder
from tests.conftest import BUILTIN
from tests.integration.conftest import runner_for
from tests.integration.test_lifecycle import leftovers

pytestmark = pytest.mark.docker


def test_a_second_start_queues_until_the_first_run_is_cancelled(
    images: ImageBuilder, runtime_image: str, tmp_path: Path, docker_client: Any
) -> None:
    settings = Settings.from_env({"PRODPROVEN_CAPACITY_MEMORY": "1g"}, data_dir=tmp_path)
    first_runner, second_runner = (runner_for(settings, images, runtime_image) for _ in "ab")
    lines: list[str] = []
    second_runner.report = lines.append
    challenge = load_challenge(BUILTIN / "deploy-model", plugins.catalog())
    first = first_runner.start(challenge, "ada", mode="scripted")
    started: list[Run] = []
    thread = threading.Thread(
        target=lambda: started.append(second_runner.start(challenge, "bob", mode="scripted"))
    )
    thread.start()
    store = first_runner.store
    deadline = time.monotonic() + 30
    while not places(store) and time.monotonic() < deadline:
        time.sleep(0.2)
    [(queued, place)] = places(store).items()
    assert place == Place(1, 1)
    time.sleep(2)  # it keeps waiting while the first run holds the room
    assert store.get(queued).status is Status.queued and "queued: position 1 of 1" in lines
    cancelled_at = time.monotonic()
    first_runner.cancel(first.id, "making room")
    thread.join(timeout=180)
    assert [run.status for run in started] == [Status.running]
    admitted = [e.at for e in store.events(queued) if e.kind == "admission.admitted"]
    assert len(admitted) == 1
    print(f"queued run started {time.monotonic() - cancelled_at:.1f} s after the cancel")
    second_runner.cancel(queued, "done")
    assert leftovers(docker_client, first.id) == [] and leftovers(docker_client, queued) == []
