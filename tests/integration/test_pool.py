"""The warm pool against the real engine: a pooled deploy-model pod holds nothing of a
candidate or a variant; a start takes it, brings in exactly its variant's starter files and
its lab answers; the pool then fills again."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from prodproven.runner import plugins
from prodproven.runner.config import Settings
from prodproven.runner.lifecycle.core import Runner
from prodproven.runner.spec.challenge import Challenge, load_challenge
from prodproven.sandbox.environment import Sandbox
from prodproven.sandbox.images import ImageBuilder
from tests.conftest import BUILTIN
from tests.integration.conftest import runner_for
from tests.integration.labsupport import B, get

pytestmark = pytest.mark.docker


def workspace_files(workspace: Sandbox) -> set[str]:
    listed = workspace.exec(
        ["find", "/workspace", "-mindepth", "1", "-not", "-path", "*/lost+found*"]
    )
    return {line.removeprefix("/workspace/") for line in listed.stdout.split()}


def test_a_start_takes_a_pooled_pod_that_held_nothing_of_it_and_the_pool_refills(
    images: ImageBuilder, runtime_image: str, tmp_path: Path
) -> None:
    settings = Settings.from_env(data_dir=tmp_path, warm_pool="deploy-model=1")
    runner: Runner = runner_for(settings, images, runtime_image)
    refills: list[str] = []

    def refill(_settings: Settings, challenge: Challenge) -> None:
        refills.append(challenge.id)

    runner.refill = refill
    challenge: Challenge = load_challenge(BUILTIN / "deploy-model", plugins.catalog())
    (pooled,) = runner.pool.fill(challenge)
    run_id = ""
    try:
        pod = runner.backend.attach_pod(pooled, "workspace")
        assert pod is not None
        workspace = pod.member("workspace")
        assert workspace is not None and workspace_files(workspace) == set()
        env = workspace.exec(["env"]).stdout
        assert "ada" not in env and "variant" not in env.lower()

        run = runner.start(challenge, "ada", mode="interactive", variant=7)
        run_id = run.id
        assert run.id == pooled and run.status.value == "running"
        kinds = [event.kind for event in runner.store.events(run.id)]
        assert {"pool.claimed", "lab.started", "status.running"} <= set(kinds)
        starter = runner.material(challenge, 7).workspace
        expected = {str(p.relative_to(root)) for root in starter for p in root.rglob("*")}
        assert workspace_files(workspace) == expected
        link = runner.lab(run.id)
        status, _, body = get(link.port, f"{B}/api/status?token={link.token}")
        assert status == 200 and "started" in json.loads(body)

        assert refills == ["deploy-model"] and runner.pool.pods() == []
        (refilled,) = runner.pool.fill(challenge)
        assert refilled != run.id and [p.state for p in runner.pool.pods()] == ["ready"]
    finally:
        runner.pool.drain()
        if run_id:
            runner.backend.remove_run(run_id)
