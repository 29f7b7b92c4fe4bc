"""Loading challenge.yaml: the built-in spec loads, and every kind of bad spec gives one
SpecError naming the file, the field and what was expected."""

from __future__ import annotations

import shutil

import pytest

from runner.challenge import find_challenge, list_challenges, load_challenge, parse_size
from runner.errors import ChallengeNotFound, SpecError
from tests.conftest import BUILTIN


def problems_of(root, catalog) -> str:
    with pytest.raises(SpecError) as info:
        load_challenge(root, catalog)
    assert str(root / "challenge.yaml") in str(info.value)
    return str(info.value)


def test_builtin_deploy_model_loads(catalog):
    challenge = load_challenge(BUILTIN / "deploy-model", catalog)
    assert challenge.spec.id == "deploy-model"
    assert [g.kind for g in challenge.spec.graders] == ["correctness", "pytest", "load", "load"]
    assert challenge.spec.resources.memory_bytes == 2**30


def test_missing_required_field_is_named(make_challenge, catalog):
    root = make_challenge(lambda s: s.pop("title"))
    assert "title: required field is missing" in problems_of(root, catalog)


def test_unknown_field_is_named(make_challenge, catalog):
    root = make_challenge(lambda s: s.update(time_limit=5))
    assert "time_limit: unknown field" in problems_of(root, catalog)


def test_wrong_type_names_field_and_value(make_challenge, catalog):
    root = make_challenge(lambda s: s.update(time_limit_minutes="soon"))
    message = problems_of(root, catalog)
    assert "time_limit_minutes" in message and "'soon'" in message


def test_bad_memory_size_is_explained(make_challenge, catalog):
    root = make_challenge(lambda s: s["resources"].update(memory="lots"))
    assert "resources.memory" in problems_of(root, catalog)


def test_unknown_competency_is_refused(make_challenge, catalog):
    root = make_challenge(lambda s: s.update(competencies=["deployment", "charisma"]))
    assert "competencies.1" in problems_of(root, catalog)


def test_unknown_grader_kind_lists_known_kinds(make_challenge, catalog):
    root = make_challenge(lambda s: s["graders"][0].update(kind="vibes"))
    message = problems_of(root, catalog)
    assert "graders.0.kind: unknown grader kind 'vibes'" in message and "'load'" in message


def test_grader_params_are_validated_against_the_grader(make_challenge, catalog):
    root = make_challenge(lambda s: s["graders"][2]["params"].update(rate=-1, colour="red"))
    message = problems_of(root, catalog)
    assert "graders.2.params.rate" in message
    assert "graders.2.params.colour: unknown field" in message


def test_missing_grader_param_is_named(make_challenge, catalog):
    root = make_challenge(lambda s: s["graders"][2]["params"].pop("slo"))
    assert "graders.2.params.slo: required field is missing" in problems_of(root, catalog)


def test_duplicate_grader_names_are_refused(make_challenge, catalog):
    root = make_challenge(lambda s: s["graders"][1].update(name="correctness"))
    assert "'correctness' is used twice" in problems_of(root, catalog)


def test_grader_competency_must_be_declared(make_challenge, catalog):
    root = make_challenge(lambda s: s["graders"][0].update(competency="infrastructure"))
    assert "graders.0.competency" in problems_of(root, catalog)


def test_missing_files_are_named(make_challenge, catalog):
    root = make_challenge()
    shutil.rmtree(root / "workspace")
    (root / "brief.md").unlink()
    message = problems_of(root, catalog)
    assert "workspace: the folder" in message and "brief.md: the file" in message


def test_hidden_folder_is_required_only_without_a_prepare_script(make_challenge, catalog):
    root = make_challenge(lambda spec: spec.pop("prepare"))
    shutil.rmtree(root / "hidden")
    assert "hidden: the folder" in problems_of(root, catalog)


def test_unknown_service_kind_lists_known_kinds(make_challenge, catalog):
    root = make_challenge(lambda spec: spec.update(services=[{"name": "db", "kind": "oracle"}]))
    assert "services.0.kind: unknown service kind 'oracle' (known: ['mlflow'" in problems_of(
        root, catalog
    )


def test_service_port_collision_is_refused(make_challenge, catalog):
    def change(spec: dict) -> None:
        spec["service"]["port"] = 5000
        spec["services"] = [{"name": "mlflow", "kind": "mlflow"}]

    root = make_challenge(change)
    assert "services.0: a mlflow service listens on 5000, already used by service.port" in (
        problems_of(root, catalog)
    )


def test_duplicate_service_names_are_refused(make_challenge, catalog):
    twice = [{"name": "mlflow", "kind": "mlflow"}, {"name": "mlflow", "kind": "mlflow"}]
    root = make_challenge(lambda spec: spec.update(services=twice))
    assert "services.1.name: 'mlflow' is used twice" in problems_of(root, catalog)


def test_setup_needs_a_service_and_its_script(make_challenge, catalog):
    root = make_challenge(lambda spec: spec.update(setup={"script": "setup/seed.py"}))
    message = problems_of(root, catalog)
    assert "setup: a setup script needs at least one service" in message
    assert "setup/seed.py: the file" in message


def test_invalid_yaml_reports_line(make_challenge, catalog):
    root = make_challenge(raw="id: deploy-model\ntitle: [unclosed\n")
    assert "not valid YAML at line" in problems_of(root, catalog)


def test_top_level_must_be_a_mapping(make_challenge, catalog):
    root = make_challenge(raw="- just\n- a list\n")
    assert "top level must be a mapping" in problems_of(root, catalog)


def test_id_must_match_folder(make_challenge, catalog):
    root = make_challenge(lambda s: s.update(id="other-name"))
    assert "must equal the folder name" in problems_of(root, catalog)


def test_every_problem_is_reported_at_once(make_challenge, catalog):
    root = make_challenge(lambda s: (s.pop("title"), s.update(version="one")))
    message = problems_of(root, catalog)
    assert "title" in message and "version" in message


def test_find_by_id_and_by_path(catalog):
    by_id = find_challenge("deploy-model", [BUILTIN], catalog)
    by_path = find_challenge(str(BUILTIN / "deploy-model"), [], catalog)
    assert by_id.root == by_path.root


def test_unknown_id_lists_known_challenges(catalog):
    with pytest.raises(ChallengeNotFound, match="known: .*deploy-model"):
        find_challenge("nope", [BUILTIN], catalog)


def test_list_reports_broken_challenges_instead_of_failing(make_challenge, catalog):
    root = make_challenge(lambda s: s.pop("graders"))
    found = list_challenges([root.parent], catalog)
    assert len(found) == 1 and isinstance(found[0], SpecError)


@pytest.mark.parametrize(
    "text,expected",
    [("512m", 512 * 2**20), ("2g", 2 * 2**30), ("1.5G", int(1.5 * 2**30)), ("64MiB", 64 * 2**20)],
)
def test_sizes_parse(text, expected):
    assert parse_size(text) == expected
