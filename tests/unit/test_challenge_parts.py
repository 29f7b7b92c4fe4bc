"""The parts of a challenge spec (runner/spec/parts.py and their checks when the spec loads):
resources and sizes, competencies, graders and their params, services and the setup script;
each bad part gives a SpecError naming the field and what was expected."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from prodproven.runner.spec.challenge import Catalog
from prodproven.runner.spec.parts import about_competency, parse_size
from tests.conftest import MakeChallenge
from tests.unit.specsupport import problems_of


def test_bad_memory_size_is_explained(make_challenge: MakeChallenge, catalog: Catalog) -> None:
    root = make_challenge(lambda s: s["resources"].update(memory="lots"))
    assert "resources.memory" in problems_of(root, catalog)


def test_unknown_competency_is_refused(make_challenge: MakeChallenge, catalog: Catalog) -> None:
    root = make_challenge(lambda s: s.update(competencies=["deployment", "charisma"]))
    assert "competencies.1" in problems_of(root, catalog)


def test_a_competency_is_shown_by_its_label_and_an_unknown_id_as_it_is() -> None:
    label, about = about_competency("ai_judgment")
    assert label == "judgment applied to AI output" and about.startswith("catching what")
    assert about_competency("charisma") == ("charisma", "")


def test_unknown_grader_kind_lists_known_kinds(
    make_challenge: MakeChallenge, catalog: Catalog
) -> None:
    root = make_challenge(lambda s: s["graders"][0].update(kind="vibes"))
    message = problems_of(root, catalog)
    assert "graders.0.kind: unknown grader kind 'vibes'" in message and "'load'" in message


def test_grader_params_are_validated_against_the_grader(
    make_challenge: MakeChallenge, catalog: Catalog
) -> None:
    root = make_challenge(lambda s: s["graders"][2]["params"].update(rate=-1, colour="red"))
    message = problems_of(root, catalog)
    assert "graders.2.params.rate" in message
    assert "graders.2.params.colour: unknown field" in message


def test_a_grader_may_require_only_graders_listed_before_it(
    make_challenge: MakeChallenge, catalog: Catalog
) -> None:
    root = make_challenge(lambda s: s["graders"][0].update(requires=["load"]))
    assert "graders.0.requires.0: 'load' is not a grader listed before this one" in problems_of(
        root, catalog
    )


def test_missing_grader_param_is_named(make_challenge: MakeChallenge, catalog: Catalog) -> None:
    root = make_challenge(lambda s: s["graders"][2]["params"].pop("slo"))
    assert "graders.2.params.slo: required field is missing" in problems_of(root, catalog)


def test_duplicate_grader_names_are_refused(
    make_challenge: MakeChallenge, catalog: Catalog
) -> None:
    root = make_challenge(lambda s: s["graders"][1].update(name="correctness"))
    assert "'correctness' is used twice" in problems_of(root, catalog)


def test_grader_competency_must_be_declared(
    make_challenge: MakeChallenge, catalog: Catalog
) -> None:
    root = make_challenge(lambda s: s["graders"][0].update(competency="infrastructure"))
    assert "graders.0.competency" in problems_of(root, catalog)


def test_unknown_service_kind_lists_known_kinds(
    make_challenge: MakeChallenge, catalog: Catalog
) -> None:
    root = make_challenge(lambda spec: spec.update(services=[{"name": "db", "kind": "oracle"}]))
    assert "services.0.kind: unknown service kind 'oracle' (known: ['mlflow'" in problems_of(
        root, catalog
    )


def test_service_port_collision_is_refused(make_challenge: MakeChallenge, catalog: Catalog) -> None:
    def change(spec: dict[str, Any]) -> None:
        spec["service"]["port"] = 5000
        spec["services"] = [{"name": "mlflow", "kind": "mlflow"}]

    root = make_challenge(change)
    assert "services.0: a mlflow service listens on 5000, already used by service.port" in (
        problems_of(root, catalog)
    )


@pytest.mark.parametrize(
    ("deployment", "problem"),
    [
        ({"first_port": 7999}, "port 8000 is one of the replicas' ports 7999-8002"),
        ({"file": "../deploy.yaml"}, "service.deployment.file"),
        ({"models_dir": "a/../../etc"}, "'a/../../etc' must stay inside /workspace"),
        ({}, "service.deployment.quota"),
    ],
)
def test_a_deployment_must_fit_beside_the_balancer_and_stay_in_the_workspace(
    make_challenge: MakeChallenge, catalog: Catalog, deployment: dict[str, Any], problem: str
) -> None:
    quota = {} if not deployment else {"quota": {"cpus": 2.0, "memory_mb": 4096}}
    root = make_challenge(
        lambda spec: spec["service"].update(port=8000, deployment={**quota, **deployment})
    )
    assert problem in problems_of(root, catalog)


def test_duplicate_service_names_are_refused(
    make_challenge: MakeChallenge, catalog: Catalog
) -> None:
    twice = [{"name": "mlflow", "kind": "mlflow"}, {"name": "mlflow", "kind": "mlflow"}]
    root = make_challenge(lambda spec: spec.update(services=twice))
    assert "services.1.name: 'mlflow' is used twice" in problems_of(root, catalog)


def test_setup_needs_a_service_and_its_script(
    make_challenge: MakeChallenge, catalog: Catalog
) -> None:
    root = make_challenge(lambda spec: spec.update(setup={"script": "setup/seed.py"}))
    message = problems_of(root, catalog)
    assert "setup: a setup script needs at least one service" in message
    assert "setup/seed.py: the file" in message


@pytest.mark.parametrize(
    "text,expected",
    [("512m", 512 * 2**20), ("2g", 2 * 2**30), ("1.5G", int(1.5 * 2**30)), ("64MiB", 64 * 2**20)],
)
def test_sizes_parse(text: str, expected: int) -> None:
    assert parse_size(text) == expected


# paths are confined to the challenge folder, numbers are finite and in range ------------------


@pytest.mark.parametrize(
    "field,change",
    [
        ("image.recipe", lambda s, bad: s["image"].update(recipe=bad)),
        ("prepare.script", lambda s, bad: s["prepare"].update(script=bad)),
        ("setup.script", lambda s, bad: s.update(setup={"script": bad})),
    ],
)
@pytest.mark.parametrize("bad", ["/etc/passwd", "../../etc/passwd", "prepare/../../outside.py"])
def test_a_spec_path_leading_out_of_the_challenge_folder_is_refused_naming_field_and_value(
    make_challenge: MakeChallenge,
    catalog: Catalog,
    field: str,
    change: Callable[[dict[str, Any], str], object],
    bad: str,
) -> None:
    root = make_challenge(lambda s: change(s, bad))
    assert f"{field}: {bad!r} must be a path inside" in problems_of(root, catalog)


def test_a_spec_path_through_a_symlink_leading_out_is_refused(
    make_challenge: MakeChallenge, catalog: Catalog, tmp_path: Path
) -> None:
    root = make_challenge()
    outside = tmp_path / "outside.py"
    outside.write_text("print('not the challenge')\n")
    (root / "prepare" / "generate.py").unlink()
    (root / "prepare" / "generate.py").symlink_to(outside)
    message = problems_of(root, catalog)
    assert "prepare.script: 'prepare/generate.py' leads out of" in message


@pytest.mark.parametrize("weight", [math.inf, 1e308, 5e-324, math.nan, 0.001, 1001])
def test_a_grader_weight_that_is_infinite_huge_or_tiny_is_refused(
    make_challenge: MakeChallenge, catalog: Catalog, weight: float
) -> None:
    root = make_challenge(lambda s: s["graders"][0].update(weight=weight))
    assert "graders.0.weight" in problems_of(root, catalog)


@pytest.mark.parametrize(
    "change",
    [
        lambda s: s["prepare"].update(timeout_s=math.inf),
        lambda s: s["service"].update(startup_timeout_s=1e308),
        lambda s: s.update(pass_score=math.nan),
        lambda s: s["graders"][2]["params"].update(rate=math.inf),
        lambda s: s["graders"][2]["params"]["slo"].update(p95_ms=1e300),
        lambda s: s["resources"].update(memory="9" * 400 + "g"),
    ],
)
def test_every_number_of_a_spec_must_be_finite_and_in_range(
    make_challenge: MakeChallenge, catalog: Catalog, change: Callable[[dict[str, Any]], object]
) -> None:
    problems_of(make_challenge(change), catalog)
