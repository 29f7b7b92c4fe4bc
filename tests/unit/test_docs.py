"""Docs cannot drift from code: every command, hook, setting, spec field, grader parameter and
result field must be documented."""

from __future__ import annotations

import inspect
import typing
from collections.abc import Iterator
from pathlib import Path

import click
import pytest
from prodproven.runner import hookspecs, plugins
from prodproven.runner.cli.main import cli
from prodproven.runner.config import ENV_PREFIX, REPO_ROOT, Settings
from prodproven.runner.grading.result import RESULT_FIELDS
from prodproven.runner.spec.challenge import ChallengeSpec
from pydantic import BaseModel

DOCS = REPO_ROOT / "docs"
CURVEDOC = "python -m prodproven.runner.present.curvedoc docs/img"


def doc(name: str) -> str:
    return (DOCS / name).read_text()


def commands(group: click.Group, prefix: str = "prodproven") -> Iterator[str]:
    for name, command in group.commands.items():
        path = f"{prefix} {name}"
        if isinstance(command, click.Group):
            yield from commands(command, path)
        else:
            yield path


def model_fields(model: type[BaseModel], prefix: str = "") -> Iterator[str]:
    for name, field in model.model_fields.items():
        path = f"{prefix}{name}"
        inner = _model_in(field.annotation)
        if inner is None:
            yield path
        else:
            is_list = typing.get_origin(field.annotation) is list
            yield from model_fields(inner, f"{path}[]." if is_list else f"{path}.")


def _model_in(annotation: object) -> type[BaseModel] | None:
    candidates = [annotation, *typing.get_args(annotation)]
    for candidate in candidates:
        if inspect.isclass(candidate) and issubclass(candidate, BaseModel):
            return candidate
    return None


@pytest.mark.parametrize("command", sorted(commands(cli)))
def test_every_cli_command_is_documented(command):
    assert f"`{command}" in doc("cli.md")


@pytest.mark.parametrize(
    "hook", [n for n, f in vars(hookspecs).items() if callable(f) and hasattr(f, "prodproven_spec")]
)
def test_every_hook_is_documented(hook):
    assert f"## `{hook}(" in doc("plugins.md")


@pytest.mark.parametrize("setting", sorted(Settings.model_fields))
def test_every_setting_is_documented(setting):
    assert f"`{ENV_PREFIX}{setting.upper()}`" in doc("operations.md")


@pytest.mark.parametrize("field", sorted(model_fields(ChallengeSpec)))
def test_every_spec_field_is_documented(field):
    document = doc("challenge-format.md")
    assert f"`{field}`" in document or any(
        f"`{field.removesuffix('.' + leaf)}`" in document for leaf in ("min", "max")
    )


def grader_section(kind: str) -> str:
    """The text of graders.md's section on the grader ``kind``."""
    section = doc("graders.md").split(f"## `{kind}`", 1)
    assert len(section) == 2, f"graders.md has no section for {kind}"
    return section[1].split("\n## ", 1)[0]


@pytest.mark.parametrize("kind", sorted(plugins.graders()))
def test_every_grader_kind_and_parameter_is_documented(kind):
    body = grader_section(kind)
    for field in model_fields(plugins.graders()[kind].Params):
        assert f"`{field}`" in body, f"{kind} parameter {field} is undocumented"


@pytest.mark.parametrize("kind", sorted(plugins.graders()))
def test_every_condition_of_every_grader_kind_is_documented_in_its_section(kind):
    body = grader_section(kind)
    for name in plugins.graders()[kind].condition_names():
        assert f"`{name}`" in body, f"{kind} condition {name} is undocumented"


def test_the_curve_plots_are_what_the_graders_draw_now():
    from prodproven.runner.present import curvedoc

    drawn = curvedoc.drawings()
    committed = {p.name: p.read_text() for p in (DOCS / "img").glob("curve-*.svg")}
    assert sorted(committed) == sorted(drawn), f"run: {CURVEDOC}"
    for name, svg in drawn.items():
        assert committed[name] == svg, f"{name} is stale: run {CURVEDOC}"


def test_every_curve_plot_is_shown_in_graders_md():
    from prodproven.runner.present import curvedoc

    for name in curvedoc.CURVES:
        assert f"](img/{name})" in doc("graders.md"), f"graders.md does not show {name}"


@pytest.mark.parametrize("kind", sorted(plugins.services()))
def test_every_service_kind_is_documented(kind):
    assert f"### `{kind}`" in doc("challenge-format.md")


@pytest.mark.parametrize("field", RESULT_FIELDS)
def test_every_result_field_is_documented(field):
    assert f"| `{field}` |" in doc("json-output.md")


def documented_fields(heading: str) -> set[str]:
    """The field names of the json-output.md table that follows the line ``heading``."""
    after = doc("json-output.md").split(heading, 1)[1]
    rows = after.split("\n\n", 2)[1].splitlines()[2:]
    return {name.strip("` ") for row in rows for name in row.split("|")[1].split(",")}


def test_the_emitted_result_document_and_its_documentation_agree():
    from tests.unit.test_grading import document

    emitted = document(
        {"name": "right", "params": {"score": 1.0}},
        requirements=[{"name": "Answers match", "grader": "right"}],
    )
    status_only = {"variant", "deadline", "graded_at", "error"}  # added by `show` (status)
    assert set(emitted) | status_only == documented_fields("print one JSON\nobject.")
    assert set(emitted["graders"][0]) == documented_fields("Each entry of `graders`:")
    assert set(emitted["requirements"][0]) == documented_fields("Each entry of `requirements`:")
    assert set(emitted["uncertainty"]) == documented_fields("`uncertainty`:")


def test_readme_starts_with_the_two_commands():
    readme = (REPO_ROOT / "README.md").read_text()
    block = readme.split("```bash", 1)[1].split("```", 1)[0]
    assert [line.split()[0:2] for line in block.strip().splitlines()] == [
        ["infra/dev.sh", "demo"],
        ["infra/dev.sh", "test"],
    ]


def test_ci_runs_the_readme_test_command():
    assert "infra/dev.sh test" in Path(REPO_ROOT / ".ci" / "run").read_text()


@pytest.mark.parametrize("kind", sorted(plugins.faults()))
def test_every_fault_kind_and_parameter_is_documented(kind):
    document = doc("challenge-format.md")
    section = document.split(f"#### `{kind}`", 1)
    assert len(section) == 2, f"challenge-format.md has no section for fault kind {kind}"
    body = section[1].split("\n#", 1)[0]
    for field in model_fields(plugins.faults()[kind].Params):
        assert f"`params.{field}`" in body, f"{kind} parameter {field} is undocumented"


def api_routes() -> Iterator[str]:
    from fastapi.routing import APIRoute
    from prodproven.runner.web import api

    for route in api.router.routes:
        if isinstance(route, APIRoute):
            for method in sorted(route.methods):
                yield f"{method} {route.path}"


@pytest.mark.parametrize("route", sorted(api_routes()))
def test_every_api_route_is_documented(route):
    assert f"`{route}`" in doc("web.md")
