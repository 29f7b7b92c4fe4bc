"""Docs cannot drift from code: every command, hook, setting, spec field, grader parameter and
result field must be documented."""

from __future__ import annotations

import dataclasses
import inspect
import typing
from collections.abc import Iterator
from pathlib import Path

import click
import pytest
from pydantic import BaseModel

from prodproven.runner import hookspecs, plugins
from prodproven.runner.cli.main import cli
from prodproven.runner.config import ENV_PREFIX, Settings
from prodproven.runner.grading.requirements import RequirementResult
from prodproven.runner.grading.result import RESULT_FIELDS, GraderEntry, ScoreUncertainty
from prodproven.runner.spec.challenge import ChallengeSpec
from prodproven.runner.spec.parts import ABOUT_COMPETENCIES, Competency
from tests.conftest import REPO_ROOT

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
def test_every_cli_command_is_documented(command: str) -> None:
    assert f"`{command}" in doc("cli.md")


def flags(group: click.Group, prefix: str = "prodproven") -> Iterator[tuple[str, str]]:
    """(command path, long option) for every option of every command, the groups' own
    included; ``--help`` is everywhere and documented once, at the top of cli.md."""
    help_names = set(group.context_settings.get("help_option_names", ["--help"]))
    for param in group.params:
        for opt in param.opts:
            if isinstance(param, click.Option) and opt.startswith("--") and opt not in help_names:
                yield prefix, opt
    for name, command in group.commands.items():
        path = f"{prefix} {name}"
        if isinstance(command, click.Group):
            yield from flags(command, path)
            continue
        for param in command.params:
            for opt in param.opts:
                if isinstance(param, click.Option) and opt.startswith("--"):
                    yield path, opt


def command_rows(command: str) -> list[str]:
    """The lines of cli.md's table that document ``command``."""
    return [
        line
        for line in doc("cli.md").splitlines()
        if line.startswith(f"| `{command} ") or line.startswith(f"| `{command}`")
    ]


@pytest.mark.parametrize(("command", "flag"), sorted(set(flags(cli))))
def test_every_cli_flag_is_documented_with_its_command(command: str, flag: str) -> None:
    if command == "prodproven":
        assert f"`{flag}" in doc("cli.md"), f"global option {flag} is undocumented"
    else:
        rows = command_rows(command)
        assert rows, f"{command} has no row in cli.md"
        assert any(flag in row for row in rows), f"{command} {flag} is undocumented"


@pytest.mark.parametrize(
    "hook", [n for n, f in vars(hookspecs).items() if callable(f) and hasattr(f, "prodproven_spec")]
)
def test_every_hook_is_documented(hook: str) -> None:
    assert f"## `{hook}(" in doc("plugins.md")


@pytest.mark.parametrize("setting", sorted(Settings.model_fields))
def test_every_setting_is_documented(setting: str) -> None:
    assert f"`{ENV_PREFIX}{setting.upper()}`" in doc("operations.md")


@pytest.mark.parametrize("field", sorted(model_fields(ChallengeSpec)))
def test_every_spec_field_is_documented(field: str) -> None:
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
def test_every_grader_kind_and_parameter_is_documented(kind: str) -> None:
    body = grader_section(kind)
    for field in model_fields(plugins.graders()[kind].Params):
        assert f"`{field}`" in body, f"{kind} parameter {field} is undocumented"


@pytest.mark.parametrize("kind", sorted(plugins.graders()))
def test_every_condition_of_every_grader_kind_is_documented_in_its_section(kind: str) -> None:
    body = grader_section(kind)
    for name in plugins.graders()[kind].condition_names():
        assert f"`{name}`" in body, f"{kind} condition {name} is undocumented"


def test_the_curve_plots_are_what_the_graders_draw_now() -> None:
    from prodproven.runner.present import curvedoc

    drawn = curvedoc.drawings()
    committed = {p.name: p.read_text() for p in (DOCS / "img").glob("curve-*.svg")}
    assert sorted(committed) == sorted(drawn), f"run: {CURVEDOC}"
    for name, svg in drawn.items():
        assert committed[name] == svg, f"{name} is stale: run {CURVEDOC}"


def test_every_curve_plot_is_shown_in_graders_md() -> None:
    from prodproven.runner.present import curvedoc

    for name in curvedoc.CURVES:
        assert f"](img/{name})" in doc("graders.md"), f"graders.md does not show {name}"


@pytest.mark.parametrize("kind", sorted(plugins.services()))
def test_every_service_kind_is_documented(kind: str) -> None:
    assert f"### `{kind}`" in doc("challenge-format.md")


@pytest.mark.parametrize("field", RESULT_FIELDS)
def test_every_result_field_is_documented(field: str) -> None:
    assert f"| `{field}` |" in doc("json-output.md")


def documented_fields(heading: str) -> set[str]:
    """The field names of the json-output.md table that follows the line ``heading``."""
    after = doc("json-output.md").split(heading, 1)[1]
    rows = after.split("\n\n", 2)[1].splitlines()[2:]
    return {name.strip("` ") for row in rows for name in row.split("|")[1].split(",")}


def test_the_result_model_and_its_documentation_name_the_same_fields() -> None:
    assert set(RESULT_FIELDS) == documented_fields("rely on these fields:")
    assert set(GraderEntry.model_fields) == documented_fields("Each entry of `graders`:")
    requirement = {f.name for f in dataclasses.fields(RequirementResult)}
    assert requirement == documented_fields("Each entry of `requirements`:")
    assert set(ScoreUncertainty.model_fields) == documented_fields("`uncertainty`:")


def test_the_competencies_are_documented_in_one_list_as_the_code_has_them() -> None:
    table = doc("scoring.md").split("<!-- competencies:", 1)[1].split("\n\n", 1)[0]
    rows = [row.split("|")[1:4] for row in table.splitlines()[3:]]
    documented = [(cid.strip(" `"), label.strip(), about.strip()) for cid, label, about in rows]
    assert documented == [(c.value, *about) for c, about in ABOUT_COMPETENCIES.items()]
    assert list(ABOUT_COMPETENCIES) == list(Competency)


def test_the_emitted_result_document_holds_every_field_of_the_model() -> None:
    from tests.unit.test_grading import document

    emitted = document(
        {"name": "right", "params": {"score": 1.0}},
        requirements=[{"name": "Answers match", "grader": "right"}],
    )
    assert list(emitted) == list(RESULT_FIELDS)
    assert list(emitted["graders"][0]) == list(GraderEntry.model_fields)


def test_readme_starts_with_the_two_commands() -> None:
    readme = (REPO_ROOT / "README.md").read_text()
    block = readme.split("```bash", 1)[1].split("```", 1)[0]
    assert [line.split()[0:2] for line in block.strip().splitlines()] == [
        ["infra/dev.sh", "demo"],
        ["infra/dev.sh", "test"],
    ]


def test_ci_runs_the_readme_test_command() -> None:
    assert "infra/dev.sh test" in Path(REPO_ROOT / ".ci" / "run").read_text()


@pytest.mark.parametrize("kind", sorted(plugins.faults()))
def test_every_fault_kind_and_parameter_is_documented(kind: str) -> None:
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
            assert route.methods is not None
            for method in sorted(route.methods):
                yield f"{method} {route.path}"


@pytest.mark.parametrize("route", sorted(api_routes()))
def test_every_api_route_is_documented(route: str) -> None:
    assert f"`{route}`" in doc("web.md")
