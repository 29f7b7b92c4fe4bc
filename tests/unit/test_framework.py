"""Competency frameworks and role profiles as data (runner/spec/framework.py): the built-in
framework is a documented file the code agrees with; a firm's framework or role profile file
is refused naming the file and each field; a challenge names another framework's competency
as ``FRAMEWORK/COMPETENCY`` and the built-in ids stay valid."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from prodproven.runner.errors import UntrustedInput
from prodproven.runner.spec.framework import (
    BUILTIN,
    Framework,
    FrameworkError,
    RoleProfile,
    load,
    load_either,
)
from prodproven.runner.spec.parts import ABOUT_COMPETENCIES, Competency, GraderSpec

LEVELS = [
    {"level": n, "floor": floor, "means": f"level {n}"}
    for n, floor in zip(range(1, 6), (0, 20, 40, 60, 80), strict=True)
]


def framework_doc(**changes: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "id": "acme",
        "name": "Acme MLOps",
        "competencies": [
            {"id": "data_quality", "label": "data quality", "description": "d", "levels": LEVELS}
        ],
    }
    return {**doc, **changes}


def written(tmp_path: Path, doc: object, name: str = "doc.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(doc))
    return path


def test_the_builtin_framework_file_holds_the_competencies_the_code_knows() -> None:
    assert BUILTIN.id == "builtin"
    assert [c.id for c in BUILTIN.competencies] == [c.value for c in Competency]
    deployment = BUILTIN.competency("deployment")
    assert ABOUT_COMPETENCIES[Competency.deployment] == (deployment.label, deployment.description)
    assert [lv.level for lv in deployment.levels] == [1, 2, 3, 4, 5]


def test_a_level_is_the_highest_whose_floor_the_value_reaches() -> None:
    deployment = BUILTIN.competency("deployment")
    floors = [lv.floor for lv in deployment.levels]
    assert deployment.level_of(0) == 1
    assert deployment.level_of(floors[2]) == 3
    assert deployment.level_of(floors[2] - 0.1) == 2
    assert deployment.level_of(100) == 5


def test_a_firms_framework_loads_from_yaml_and_qualifies_its_ids(tmp_path: Path) -> None:
    framework = load(Framework, written(tmp_path, framework_doc()))
    assert framework.qualified("data_quality") == "acme/data_quality"
    assert BUILTIN.qualified("deployment") == "deployment"


@pytest.mark.parametrize(
    ("changes", "field", "problem"),
    [
        ({"name": ""}, "name", "at least 1 character"),
        ({"id": "Acme Corp"}, "id", "should match pattern"),
        ({"colour": "red"}, "colour", "unknown field"),
        ({"competencies": [{"id": "x", "label": "x", "description": "x", "levels": LEVELS[:4]}]},
         "competencies.0", "levels must be 1, 2, 3, 4 and 5"),
        ({"competencies": [{"id": "x", "label": "x", "description": "x",
                            "levels": [*LEVELS[:4], {**LEVELS[4], "floor": 10}]}]},
         "competencies.0", "floors must start at 0 and rise"),
        ({"competencies": [framework_doc()["competencies"][0]] * 2},
         "(top level)", "'data_quality'] appear more than once"),
    ],
)  # fmt: skip
def test_a_framework_file_is_refused_naming_the_file_and_the_field(
    tmp_path: Path, changes: dict[str, Any], field: str, problem: str
) -> None:
    path = written(tmp_path, framework_doc(**changes))
    with pytest.raises(FrameworkError) as refused:
        load(Framework, path)
    message = str(refused.value)
    assert message.startswith(f"invalid framework {path}:")
    assert f"- {field}" in message and problem in message


def test_a_role_profile_names_levels_1_to_5_of_competency_ids(tmp_path: Path) -> None:
    good = {"name": "ML engineer II", "requires": {"deployment": 3, "ai_judgment": 2}}
    profile = load(RoleProfile, written(tmp_path, good))
    assert (profile.framework, profile.requires["deployment"]) == ("builtin", 3)
    for requires, field in (({"deployment": 6}, "requires.deployment"), ({}, "requires")):
        path = written(tmp_path, {**good, "requires": requires}, "bad.yaml")
        with pytest.raises(FrameworkError, match=rf"invalid role profile {path}:\n  - {field}:"):
            load(RoleProfile, path)


def test_a_role_profile_must_name_competencies_its_framework_has() -> None:
    profile = RoleProfile(name="SRE", requires={"deployment": 2, "charisma": 4})
    with pytest.raises(FrameworkError, match="'builtin' has no competency 'charisma'"):
        profile.checked(BUILTIN)
    assert RoleProfile(name="SRE", requires={"deployment": 2}).checked(BUILTIN).name == "SRE"


def test_a_file_with_competencies_is_a_framework_any_other_a_role_profile(tmp_path: Path) -> None:
    assert isinstance(load_either(written(tmp_path, framework_doc())), Framework)
    profile = {"name": "SRE", "requires": {"deployment": 2}}
    assert isinstance(load_either(written(tmp_path, profile, "p.yaml")), RoleProfile)


def test_a_file_that_is_not_yaml_is_refused_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("name: [unclosed\n")
    with pytest.raises(UntrustedInput, match=str(path)):
        load_either(path)


@pytest.mark.parametrize("competency", ["deployment", "acme/data_quality"])
def test_a_grader_names_a_builtin_or_another_frameworks_competency(competency: str) -> None:
    grader = GraderSpec.model_validate({"name": "g", "kind": "k", "competency": competency})
    assert grader.competency == competency and grader.competency.value == competency


@pytest.mark.parametrize("competency", ["charisma", "Acme/x", "acme/", "a/b/c", "acme/Data"])
def test_a_grader_refuses_other_names(competency: str) -> None:
    with pytest.raises(ValueError, match="competency"):
        GraderSpec.model_validate({"name": "g", "kind": "k", "competency": competency})


def test_the_schema_of_a_competency_tells_both_forms() -> None:
    schema = GraderSpec.model_json_schema()["$defs"]["Competency"]
    builtin, foreign = schema["anyOf"]
    assert builtin["enum"] == [c.value for c in Competency]
    assert "/" in foreign["pattern"]
