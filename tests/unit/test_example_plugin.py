"""The example grader package in tests/plugins, installed for real: its entry point makes the
``label_accuracy`` kind available to specs, and it grades submissions.

The package is installed in development mode: setuptools writes its metadata from its own
pyproject.toml (egg_info) next to its code, and that folder goes on the path. pip is not used:
building a wheel needs the ``wheel`` package, which the venv lacks and only the network has."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from prodproven.runner import plugins
from prodproven.runner.grading.evaluation import CpuPlan, Evaluation, EvaluationPlan
from prodproven.runner.grading.pipeline import GradingJob, run_graders
from prodproven.runner.runs.store import Store
from prodproven.runner.spec.challenge import load_challenge
from prodproven.sandbox.docker_backend import DockerBackend
from tests.conftest import REPO_ROOT, MakeChallenge
from tests.unit.pluginsupport import plugins_found_afresh

EXAMPLE = REPO_ROOT / "tests" / "plugins" / "prodproven-example-grader"
GRADE_IN_FOLDERS = REPO_ROOT / "tests" / "plugins" / "grade_in_folders.py"
LABELS = "id,label\n1,cat\n2,dog\n3,cat\n4,bird\n"
GRADER = {
    "name": "predictions",
    "kind": "label_accuracy",
    "competency": "deployment",
    "params": {"predictions": "out/predictions.csv", "labels": "labels.csv"},
}


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The folder to put on the path for the example package to be installed."""
    package = tmp_path_factory.mktemp("example") / "prodproven-example-grader"
    shutil.copytree(EXAMPLE, package)
    subprocess.run(
        [sys.executable, "-c", "from setuptools import setup; setup()", "egg_info"],
        cwd=package,
        check=True,
        capture_output=True,
    )
    return package


@pytest.fixture
def on_path(installed: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The example package installed in this process, with plugins looked up afresh."""
    monkeypatch.syspath_prepend(str(installed))
    with plugins_found_afresh():
        yield installed


def in_fresh_interpreter(
    installed: Path, *args: str, **env: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(installed), **env},
    )


def grade_predictions(installed: Path, tmp_path: Path, predictions: str) -> dict[str, Any]:
    workspace, hidden, artifacts = (tmp_path / name for name in ("ws", "hidden", "artifacts"))
    for folder in (workspace / "out", hidden, artifacts):
        folder.mkdir(parents=True)
    (workspace / "out" / "predictions.csv").write_text(predictions)
    (hidden / "labels.csv").write_text(LABELS)
    params = json.dumps(GRADER["params"])
    graded = in_fresh_interpreter(
        installed,
        str(GRADE_IN_FOLDERS),
        "label_accuracy",
        params,
        *map(str, (workspace, hidden, artifacts)),
    )
    assert graded.returncode == 0, graded.stderr
    result: dict[str, Any] = json.loads(graded.stdout)
    return result


def test_the_installed_package_provides_its_kind_from_its_entry_point(installed: Path) -> None:
    found = in_fresh_interpreter(
        installed,
        "-c",
        "from runner import plugins; g = plugins.graders()['label_accuracy']; "
        "print(g.__module__, g.__name__, plugins.plugin_problems())",
    )
    assert found.stdout.split() == ["prodproven_example_grader", "LabelAccuracyGrader", "[]"]


def test_the_installed_grader_gives_right_predictions_full_marks(
    installed: Path, tmp_path: Path
) -> None:
    result = grade_predictions(installed, tmp_path, "id,label\n4,bird\n3,cat\n2,dog\n1,cat\n")
    assert (result["score"], result["passed"]) == (1.0, True)


def test_the_installed_grader_scores_wrong_predictions_by_accuracy(
    installed: Path, tmp_path: Path
) -> None:
    result = grade_predictions(installed, tmp_path, "id,label\n1,cat\n2,cat\n3,cat\n")
    assert (result["score"], result["passed"]) == (0.5, False)
    assert result["evidence"]["mismatches"] == [
        {"id": "2", "expected": "dog", "got": "cat"},
        {"id": "4", "expected": "bird", "got": None},
    ]


def test_a_spec_naming_the_packaged_kind_is_listed_as_valid(
    installed: Path, tmp_path: Path, make_challenge: MakeChallenge
) -> None:
    root = make_challenge(lambda s: s.update(id="label-lab", graders=[GRADER], requirements=[]))
    (tmp_path / "extra").mkdir()
    root.rename(tmp_path / "extra" / "label-lab")
    listed = in_fresh_interpreter(
        installed,
        "-m",
        "prodproven.runner.cli",
        "challenge",
        "list",
        "--json",
        PRODPROVEN_DATA_DIR=str(tmp_path / "data"),
        PRODPROVEN_CHALLENGES_PATH=str(tmp_path / "extra"),
    )
    rows = {row.get("id"): row for row in json.loads(listed.stdout)}
    assert "error" not in rows["label-lab"] and "warning" not in listed.stderr


def test_the_packaged_grader_grades_a_submitted_archive_in_the_pipeline(
    on_path: Path, tmp_path: Path, make_challenge: MakeChallenge, store: Store
) -> None:
    root = make_challenge(lambda s: s.update(graders=[GRADER], requirements=[]))
    challenge = load_challenge(root, plugins.catalog())
    archive = tmp_path / "workspace.tar"
    (tmp_path / "predictions.csv").write_text("id,label\n1,cat\n2,dog\n3,cat\n4,cat\n")
    with tarfile.open(archive, "w") as tar:
        tar.add(tmp_path / "predictions.csv", arcname="./out/predictions.csv")
    (tmp_path / "hidden").mkdir()
    (tmp_path / "hidden" / "labels.csv").write_text(LABELS)
    run = store.create_run(
        challenge_id=challenge.id,
        challenge_version=challenge.spec.version,
        challenge_path=str(root),
        candidate="ada",
        mode="scripted",
    )
    plan = EvaluationPlan(
        run_id=run.id,
        attempt=1,
        challenge=challenge,
        challenge_image="unused",
        grader_image="unused",
        archive=archive,
        hidden_roots=(tmp_path / "hidden",),
        artifacts_dir=tmp_path / "artifacts",
        cpus=CpuPlan(),
    )
    no_engine = DockerBackend(client=None, pod_image="unused")  # the grader runs in-process
    job = GradingJob(
        run=run,
        challenge=challenge,
        plan=plan,
        evaluation=Evaluation(no_engine, plan, store),
        graders=plugins.graders(),
        report=lambda line: None,
        event=lambda kind, data: store.add_event(run.id, kind, data),
    )
    run_graders(job)
    [outcome] = job.outcomes
    assert (outcome.result.score, outcome.result.passed) == (0.75, False)
    events = [(event.kind, event.data) for event in store.events(run.id)]
    assert ("grader.log", {"grader": "predictions", "message": "3 of 4 labels right"}) in events
