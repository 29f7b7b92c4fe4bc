"""Static checks of a challenge's files: references resolve, nothing leaks, sizes are sane."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from prodproven.graders.notebook import NotebookParams
from prodproven.runner import plugins
from prodproven.runner.gate.static_checks import hidden_references, static_problems
from prodproven.runner.spec.challenge import Challenge, load_challenge
from prodproven.runner.spec.prepare import Material

LIMIT = 512 * 2**20


@pytest.fixture
def deploy(make_challenge: Callable[..., Path], tmp_path: Path) -> tuple[Challenge, Material]:
    """deploy-model's folder and hidden material with every file its graders name."""
    root = make_challenge()
    hidden = tmp_path / "generated" / "hidden"
    (hidden / "correctness").mkdir(parents=True)
    (hidden / "correctness" / "inputs.json").write_text(json.dumps([[0.5] * 30] * 40))
    (hidden / "correctness" / "expected.json").write_text(json.dumps([0, 1] * 20))
    (hidden / "load").mkdir()
    for rel in ("load/single.json", "load/batch256.json"):
        (hidden / rel).write_text("[]")
    shutil.copytree(root / "hidden" / "tests", hidden / "tests")
    challenge = load_challenge(root, plugins.catalog())
    return challenge, Material(workspace=(root / "workspace",), hidden=(hidden,), setup=())


def problems(deploy: tuple[Challenge, Material], limit: int = LIMIT) -> dict[str, list[str]]:
    challenge, material = deploy
    return static_problems(challenge, material, plugins.catalog(), limit)


def test_a_well_formed_challenge_has_no_problems(deploy: tuple[Challenge, Material]) -> None:
    assert problems(deploy) == {"files": [], "leaks": [], "sizes": []}


def test_a_hidden_file_named_by_a_grader_must_exist(deploy: tuple[Challenge, Material]) -> None:
    _, material = deploy
    (material.hidden[0] / "load" / "batch256.json").unlink()
    assert problems(deploy)["files"] == [
        "graders.3.params.payloads: the hidden file 'load/batch256.json' is not in the "
        "(generated) hidden material"
    ]


def test_the_reference_solution_must_exist(deploy: tuple[Challenge, Material]) -> None:
    challenge, _ = deploy
    shutil.rmtree(challenge.path("solution"))
    assert problems(deploy)["files"] == [
        "solution/: missing; the reference check needs a reference solution"
    ]


def test_the_service_script_must_be_in_the_starter(deploy: tuple[Challenge, Material]) -> None:
    challenge, _ = deploy
    challenge.path("workspace/start.sh").unlink()
    assert problems(deploy)["files"] == [
        "service.command: /workspace/start.sh is not in the starter workspace"
    ]


def test_an_image_recipe_referring_to_hidden_material_is_a_leak(
    deploy: tuple[Challenge, Material],
) -> None:
    challenge, _ = deploy
    dockerfile = challenge.path("image/Dockerfile")
    lines = dockerfile.read_text().splitlines()
    dockerfile.write_text("\n".join([*lines, "COPY hidden/tests /opt/tests"]) + "\n")
    assert problems(deploy)["leaks"] == [
        f"image/Dockerfile:{len(lines) + 1} refers to hidden/: COPY hidden/tests /opt/tests"
    ]


def test_a_starter_file_referring_to_the_solution_is_a_leak(
    deploy: tuple[Challenge, Material],
) -> None:
    challenge, _ = deploy
    challenge.path("workspace/notes.md").write_text("see ../solution/app.py\n")
    assert problems(deploy)["leaks"] == [
        "workspace/notes.md:1 refers to solution/: see ../solution/app.py"
    ]


def test_a_copy_of_a_hidden_file_in_the_starter_is_a_leak(
    deploy: tuple[Challenge, Material],
) -> None:
    challenge, material = deploy
    shutil.copy(material.hidden[0] / "correctness" / "expected.json", challenge.path("workspace"))
    leaks = problems(deploy)["leaks"]
    assert leaks == [
        "workspace/expected.json is a copy of the hidden file "
        "(generated) hidden/correctness/expected.json"
    ]


def test_a_starter_over_the_submit_limit_is_too_big(deploy: tuple[Challenge, Material]) -> None:
    assert problems(deploy, limit=1024)["sizes"][0].startswith(
        "the starter workspace is 0.0 MiB, over the submit limit of 0.0 MiB"
    )


def test_hidden_references_walk_nested_parameter_models() -> None:
    params = NotebookParams.model_validate(
        {"path": "a.ipynb", "expectations": [{"tag": "t", "truth": "drift/truth.json"}]}
    )
    assert list(hidden_references(params, "p")) == [("p.expectations.0.truth", "drift/truth.json")]


@pytest.mark.parametrize("outside", ["../../etc/passwd", "/etc/passwd"])
def test_a_hidden_file_leading_out_of_the_hidden_material_is_refused(
    make_challenge: Callable[..., Path], tmp_path: Path, outside: str
) -> None:
    def change(spec: dict[str, object]) -> None:
        graders = spec["graders"]
        assert isinstance(graders, list)
        graders[0]["params"]["inputs"] = outside

    root = make_challenge(change)
    hidden = tmp_path / "generated" / "hidden"
    hidden.mkdir(parents=True)
    challenge = load_challenge(root, plugins.catalog())
    material = Material(workspace=(root / "workspace",), hidden=(hidden,), setup=())
    files = static_problems(challenge, material, plugins.catalog(), LIMIT)["files"]
    assert any(f"graders.0.params.inputs: {outside!r} must be a path inside" in p for p in files)
