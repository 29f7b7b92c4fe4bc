"""Per-run MLflow, the mlflow_model grader and the notebook grader, against the real engine.

One small challenge (tests/integration/labs/mlflow-lab) is run twice: by an honest submission
and by a hostile one (a forged notebook output, a cell that raises, a model whose unpickling
tries to reach the host). Each test checks one behaviour of those runs.
"""

from __future__ import annotations

import json
import shutil
import tarfile
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from prodproven.runner import plugins
from prodproven.runner.config import Settings
from prodproven.runner.lifecycle.core import Runner
from prodproven.runner.runs.store import Run, Status
from prodproven.runner.spec.challenge import Challenge, load_challenge
from prodproven.sandbox.images import ImageBuilder
from tests.conftest import BUILTIN
from tests.integration.conftest import HostListener, host_addresses, listening, runner_for

pytestmark = pytest.mark.docker

LAB = Path(__file__).parent / "labs" / "mlflow-lab"


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Challenge:
    root = tmp_path_factory.mktemp("labs") / "mlflow-lab"
    shutil.copytree(LAB, root)
    shutil.copytree(BUILTIN / "fix-drift" / "image", root / "image")
    return load_challenge(root, plugins.catalog())


@pytest.fixture(scope="module")
def lab_runner(
    images: ImageBuilder, runtime_image: str, tmp_path_factory: pytest.TempPathFactory
) -> Runner:
    settings = Settings.from_env(data_dir=tmp_path_factory.mktemp("lab-data"))
    return runner_for(settings, images, runtime_image)


@pytest.fixture(scope="module")
def running(lab_runner: Runner, lab: Challenge) -> Iterator[Run]:
    """A started run of the lab, its workspace and MLflow up."""
    run = lab_runner.start(lab, "ada")
    yield run
    lab_runner.backend.remove_run(run.id)


@pytest.fixture(scope="module")
def honest(lab_runner: Runner, running: Run) -> Run:
    """The running lab, completed by the honest solution, submitted and graded."""
    lab_runner.overlay(running.id, LAB / "solution")
    lab_runner.autopilot(running.id)
    lab_runner.submit(running.id)
    return lab_runner.grade(running.id)


@pytest.fixture(scope="module")
def escape_attempt(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Path, HostListener]]:
    with listening() as listener:
        yield tmp_path_factory.mktemp("host") / "escaped-marker", listener


@pytest.fixture(scope="module")
def hostile(
    lab_runner: Runner,
    lab: Challenge,
    escape_attempt: tuple[Path, HostListener],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Run]:
    marker, listener = escape_attempt
    submission = tmp_path_factory.mktemp("hostile")
    shutil.copytree(LAB / "hostile", submission, dirs_exist_ok=True)
    (submission / "target").write_text(f"{marker} {host_addresses()[0]} {listener.port}\n")
    run = lab_runner.run_scripted(lab, submission, "mallory")
    yield run
    lab_runner.backend.remove_run(run.id)


def result(run: Run) -> dict[str, Any]:
    """The run's result document (the run's error when it has none fails the test)."""
    assert run.result is not None, run.error
    return run.result


def grader(run: Run, name: str) -> dict[str, Any]:
    return next(g for g in result(run)["graders"] if g["name"] == name)


# the service, while the run is live ----------------------------------------------------------


def test_workspace_reaches_mlflow_by_name(lab_runner: Runner, running: Run) -> None:
    _, workspace = lab_runner.workspace(running.id)
    probe = "import os, urllib.request as u; print(os.environ['MLFLOW_TRACKING_URI'], "
    probe += "u.urlopen('http://mlflow:5000/health', timeout=10).read().decode())"
    result = workspace.exec(["python", "-c", probe], timeout=60)
    assert result.stdout.split() == ["http://mlflow:5000", "OK"], result.stderr


def test_host_reaches_mlflow_on_loopback_and_setup_seeded_it(
    lab_runner: Runner, running: Run
) -> None:
    published = lab_runner.forward(running.id, "mlflow")
    assert published.host == "127.0.0.1"
    url = f"{published.url}/api/2.0/mlflow/experiments/get-by-name?experiment_name=seeded"
    with urllib.request.urlopen(url, timeout=30) as response:
        assert json.loads(response.read())["experiment"]["name"] == "seeded"


def test_setup_files_never_enter_the_workspace(lab_runner: Runner, running: Run) -> None:
    _, workspace = lab_runner.workspace(running.id)
    assert not workspace.exec(["test", "-e", "/setup/seed.py"], timeout=10).ok


# the honest run ------------------------------------------------------------------------------


def test_mlflow_data_is_archived_with_the_run_at_submit(honest: Run) -> None:
    info = (honest.service_archives or {})["mlflow"]
    with tarfile.open(info["path"]) as tar:
        names = tar.getnames()
    assert "./mlflow.db" in names
    assert any(name.startswith("./artifacts/") for name in names)


def test_registered_model_is_found_and_reevaluated_on_hidden_data(honest: Run) -> None:
    model = grader(honest, "model")
    evidence = model["evidence"]
    assert honest.status == Status.graded
    assert evidence["version"] == "1"
    assert evidence["measured_auc"] > evidence["baseline_auc"] + 0.05
    assert evidence["claimed_auc"] == pytest.approx(evidence["measured_auc"], abs=0.05)
    assert all(evidence["hygiene"].values())
    assert model["score"] > 0.9


def test_an_honest_notebook_reproduces_its_answer(honest: Run) -> None:
    notebook = grader(honest, "notebook")
    assert notebook["score"] == 1.0
    assert [c["status"] for c in notebook["evidence"]["cells"]] == ["ok", "ok"]
    assert not result(honest)["integrity"]


# the hostile run -----------------------------------------------------------------------------


def test_a_forged_saved_output_is_an_integrity_finding(hostile: Run) -> None:
    kinds = {(f["grader"], f["kind"]) for f in result(hostile)["integrity"]}
    assert ("notebook", "saved_output_not_reproduced") in kinds
    check = grader(hostile, "notebook")["evidence"]["expectations"][0]
    assert (check["saved"], check["produced"], check["score"]) == (["b"], ["a"], 0.0)


def test_a_raising_cell_is_recorded_and_the_next_cell_still_runs(hostile: Run) -> None:
    cells = grader(hostile, "notebook")["evidence"]["cells"]
    assert [c["status"] for c in cells] == ["ok", "error", "ok"]
    assert cells[1]["error"] == {"ename": "ValueError", "evalue": "boom"}
    assert hostile.status == Status.graded


def test_a_malicious_model_cannot_touch_the_host(
    hostile: Run, escape_attempt: tuple[Path, HostListener]
) -> None:
    marker, listener = escape_attempt
    model = grader(hostile, "model")
    assert model["score"] == 0.0 and model["error"] is None
    assert "payload ran: wrote=[] connected=[]" in model["evidence"]["model_output"]
    assert not marker.exists()
    assert listener.accepted == []
