"""Views of a graded run's services against the real engine (runner/lifecycle/views.py): a
fix-drift run scripted with its reference solution is graded, then its MLflow is opened from
the submit archive in a view pod, read through the returned port, guarded read-only, closed,
closed when idle, and collected by gc when its process is gone."""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from prodproven.runner import plugins
from prodproven.runner.config import Settings
from prodproven.runner.lifecycle.core import Runner
from prodproven.runner.lifecycle.views import VIEW_PURPOSE
from prodproven.runner.portal.access import Actor
from prodproven.runner.portal.core import Portal
from prodproven.runner.runs.archives import sha256_of
from prodproven.runner.runs.store import Run, Status
from prodproven.runner.spec.challenge import load_challenge
from prodproven.sandbox.docker_backend import PURPOSE_LABEL
from prodproven.sandbox.environment import NOBODY_USER, RUN_LABEL
from prodproven.sandbox.images import ImageBuilder
from tests.conftest import BUILTIN
from tests.integration.conftest import runner_for

pytestmark = pytest.mark.docker

OPERATOR = Actor("cli:tests", None)


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return Settings.from_env(data_dir=tmp_path_factory.mktemp("views-data"))


@pytest.fixture(scope="module")
def runner(settings: Settings, images: ImageBuilder, runtime_image: str) -> Runner:
    return runner_for(settings, images, runtime_image)


@pytest.fixture(scope="module")
def graded(runner: Runner) -> Iterator[Run]:
    """fix-drift run by its reference solution (it registers churn-model), graded."""
    challenge = load_challenge(BUILTIN / "fix-drift", plugins.catalog())
    run = runner.run_scripted(challenge, BUILTIN / "fix-drift" / "solution", "ada")
    assert run.status is Status.graded, run.error
    yield run
    runner.views.close(run.id)
    runner.backend.remove_run(run.id)


def get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=30) as response:
        return json.load(response)


def post_json(url: str, body: dict[str, Any]) -> Any:
    request = urllib.request.Request(
        url, json.dumps(body).encode(), {"Content-Type": "application/json"}, method="POST"
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)


def view_labels(docker_client: Any, run_id: str) -> list[str]:
    """The roles of the run's containers in a view pod."""
    found = docker_client.containers.list(
        all=True, filters={"label": [f"{RUN_LABEL}={run_id}", f"{PURPOSE_LABEL}={VIEW_PURPOSE}"]}
    )
    return sorted(c.labels["prodproven.role"] for c in found)


def test_the_view_lists_the_model_the_run_registered(
    runner: Runner, graded: Run, docker_client: Any
) -> None:
    published = runner.view_service(graded.id, "mlflow")
    found = get_json(f"{published.url}/api/2.0/mlflow/registered-models/search")
    assert "churn-model" in [m["name"] for m in found["registered_models"]]
    assert view_labels(docker_client, graded.id) == ["pod", "svc-mlflow"]  # nothing else enters
    box = docker_client.containers.get(f"pp-{graded.id}-{VIEW_PURPOSE}-svc-mlflow")
    assert box.attrs["Config"]["User"] == NOBODY_USER
    assert (
        box.attrs["HostConfig"]["Memory"]
        == runner.views.kind(graded.id, "mlflow").limits.memory_bytes
    )
    assert runner.view_service(graded.id, "mlflow") == published  # reused, not made again


def test_writes_are_refused_and_never_reach_the_archive(
    runner: Runner, graded: Run, settings: Settings
) -> None:
    portal = Portal(settings, runner.store, runner=lambda _report: runner)
    tool = portal.runs.tool_view(OPERATOR, graded.id, "mlflow")
    url = f"http://127.0.0.1:{tool.port}"
    search = "/api/2.0/mlflow/experiments/search"
    assert tool.allows("POST", search)
    assert post_json(url + search, {"max_results": 10})["experiments"]
    create = "/api/2.0/mlflow/experiments/create"
    assert not tool.allows("POST", create)
    # Past the guard (the operator's own port), a write changes the throwaway copy only.
    archive = (graded.service_archives or {})["mlflow"]
    post_json(url + create, {"name": "written-in-a-view"})
    assert sha256_of(Path(archive["path"])) == archive["sha256"]


def test_a_closed_view_leaves_nothing(runner: Runner, graded: Run, docker_client: Any) -> None:
    runner.view_service(graded.id, "mlflow")
    assert runner.views.close(graded.id)
    assert view_labels(docker_client, graded.id) == []
    kinds = [e.kind for e in runner.store.events(graded.id)]
    assert kinds.count("view.opened") >= 1 and kinds[-1] == "view.closed"


def test_an_idle_view_is_closed_by_itself(
    settings: Settings,
    images: ImageBuilder,
    runtime_image: str,
    runner: Runner,
    graded: Run,
    docker_client: Any,
) -> None:
    runner.views.close(graded.id)  # the view of the tests before, held by the module's runner
    brief = runner_for(settings.model_copy(update={"view_idle_s": 2.0}), images, runtime_image)
    brief.view_service(graded.id, "mlflow")
    deadline = time.monotonic() + 30
    while view_labels(docker_client, graded.id) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert view_labels(docker_client, graded.id) == []
    assert not brief.views.touch(graded.id)


@pytest.mark.machine_wide  # gc would remove the runs of tests running beside it
def test_gc_keeps_a_live_view_and_removes_a_leftover_one(
    runner: Runner,
    graded: Run,
    settings: Settings,
    images: ImageBuilder,
    runtime_image: str,
    docker_client: Any,
) -> None:
    runner.view_service(graded.id, "mlflow")
    other_process = runner_for(settings, images, runtime_image)  # its own view locks
    other_process.gc()
    assert view_labels(docker_client, graded.id) == ["pod", "svc-mlflow"]
    runner.views.close(graded.id)
    # What a process that died holding a view leaves behind:
    runner.backend.create_pod(graded.id, VIEW_PURPOSE, hosts=["mlflow"])
    assert other_process.gc()[graded.id] >= 1
    assert view_labels(docker_client, graded.id) == []
