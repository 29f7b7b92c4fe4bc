"""Loading challenge.yaml: the built-in spec loads, and every kind of bad spec gives one
SpecError naming the file, the field and what was expected."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any, Protocol

import pytest
import yaml

from prodproven.graders.slo import Slo
from prodproven.runner.errors import ChallengeClash, ChallengeNotFound, SpecError
from prodproven.runner.spec.challenge import (
    Catalog,
    Challenge,
    find_challenge,
    list_challenges,
    load_challenge,
)
from prodproven.runner.spec.parts import parse_size
from prodproven.runner.spec.validation import SlowCheck
from prodproven.sandbox.environment import Limits
from tests.conftest import BUILTIN, MakeChallenge, SpecChange


def problems_of(root: Path, catalog: Catalog) -> str:
    with pytest.raises(SpecError) as info:
        load_challenge(root, catalog)
    assert str(root / "challenge.yaml") in str(info.value)
    return str(info.value)


def test_builtin_deploy_model_loads(catalog: Catalog) -> None:
    challenge = load_challenge(BUILTIN / "deploy-model", catalog)
    assert challenge.spec.id == "deploy-model"
    assert [g.kind for g in challenge.spec.graders] == ["correctness", "pytest", "load", "load"]
    assert challenge.spec.resources.memory_bytes == 2**30


def test_missing_required_field_is_named(make_challenge: MakeChallenge, catalog: Catalog) -> None:
    root = make_challenge(lambda s: s.pop("title"))
    assert "title: required field is missing" in problems_of(root, catalog)


def test_unknown_field_is_named(make_challenge: MakeChallenge, catalog: Catalog) -> None:
    root = make_challenge(lambda s: s.update(time_limit=5))
    assert "time_limit: unknown field" in problems_of(root, catalog)


def test_wrong_type_names_field_and_value(make_challenge: MakeChallenge, catalog: Catalog) -> None:
    root = make_challenge(lambda s: s.update(time_limit_minutes="soon"))
    message = problems_of(root, catalog)
    assert "time_limit_minutes" in message and "'soon'" in message


def test_bad_memory_size_is_explained(make_challenge: MakeChallenge, catalog: Catalog) -> None:
    root = make_challenge(lambda s: s["resources"].update(memory="lots"))
    assert "resources.memory" in problems_of(root, catalog)


def test_unknown_competency_is_refused(make_challenge: MakeChallenge, catalog: Catalog) -> None:
    root = make_challenge(lambda s: s.update(competencies=["deployment", "charisma"]))
    assert "competencies.1" in problems_of(root, catalog)


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


def test_the_noise_check_needs_at_least_two_gradings(
    make_challenge: MakeChallenge, catalog: Catalog
) -> None:
    root = make_challenge(lambda s: s["validation"].update(noise={"repeats": 1}))
    assert "validation.noise.repeats" in problems_of(root, catalog)


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


def test_missing_files_are_named(make_challenge: MakeChallenge, catalog: Catalog) -> None:
    root = make_challenge()
    shutil.rmtree(root / "workspace")
    (root / "brief.md").unlink()
    message = problems_of(root, catalog)
    assert "workspace: the folder" in message and "brief.md: the file" in message


def test_hidden_folder_is_required_only_without_a_prepare_script(
    make_challenge: MakeChallenge, catalog: Catalog
) -> None:
    root = make_challenge(lambda spec: spec.pop("prepare"))
    shutil.rmtree(root / "hidden")
    assert "hidden: the folder" in problems_of(root, catalog)


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


def test_invalid_yaml_reports_line(make_challenge: MakeChallenge, catalog: Catalog) -> None:
    root = make_challenge(raw="id: deploy-model\ntitle: [unclosed\n")
    assert "not valid YAML at line" in problems_of(root, catalog)


def test_top_level_must_be_a_mapping(make_challenge: MakeChallenge, catalog: Catalog) -> None:
    root = make_challenge(raw="- just\n- a list\n")
    assert "top level must be a mapping" in problems_of(root, catalog)


def test_id_must_match_folder(make_challenge: MakeChallenge, catalog: Catalog) -> None:
    root = make_challenge(lambda s: s.update(id="other-name"))
    assert "must equal the folder name" in problems_of(root, catalog)


def test_every_problem_is_reported_at_once(make_challenge: MakeChallenge, catalog: Catalog) -> None:
    root = make_challenge(lambda s: (s.pop("title"), s.update(version="one")))
    message = problems_of(root, catalog)
    assert "title" in message and "version" in message


def test_find_by_id_and_by_path(catalog: Catalog) -> None:
    by_id = find_challenge("deploy-model", [BUILTIN], catalog)
    by_path = find_challenge(str(BUILTIN / "deploy-model"), [], catalog)
    assert by_id.root == by_path.root


def test_unknown_id_lists_known_challenges(catalog: Catalog) -> None:
    with pytest.raises(ChallengeNotFound, match="known: .*deploy-model"):
        find_challenge("nope", [BUILTIN], catalog)


def test_list_reports_broken_challenges_instead_of_failing(
    make_challenge: MakeChallenge, catalog: Catalog
) -> None:
    root = make_challenge(lambda s: s.pop("graders"))
    found = list_challenges([root.parent], catalog)
    assert len(found) == 1 and isinstance(found[0], SpecError)


# discovery: ids are unique across the search folders -----------------------------------------


def copy_of_deploy_model(into: Path) -> Path:
    """A search folder ``into`` holding a copy of deploy-model."""
    shutil.copytree(BUILTIN / "deploy-model", into / "deploy-model")
    return into


def test_an_id_found_in_two_search_folders_is_a_clash_naming_both(
    tmp_path: Path, catalog: Catalog
) -> None:
    extra = copy_of_deploy_model(tmp_path / "extra")
    with pytest.raises(ChallengeClash) as info:
        find_challenge("deploy-model", [BUILTIN, extra], catalog)
    message = str(info.value)
    assert "'deploy-model'" in message
    assert str(BUILTIN / "deploy-model") in message and str(extra / "deploy-model") in message


def test_a_clashing_id_given_as_a_folder_path_still_loads(tmp_path: Path, catalog: Catalog) -> None:
    extra = copy_of_deploy_model(tmp_path / "extra")
    found = find_challenge(str(extra / "deploy-model"), [BUILTIN, extra], catalog)
    assert found.root == (extra / "deploy-model").resolve()


def test_list_shows_a_clash_once_in_place_of_the_challenge(
    tmp_path: Path, catalog: Catalog
) -> None:
    extra = copy_of_deploy_model(tmp_path / "extra")
    found = list_challenges([BUILTIN, extra], catalog)
    clashes = [c for c in found if isinstance(c, ChallengeClash)]
    assert [c.challenge_id for c in clashes] == ["deploy-model"]
    assert clashes[0].folders == (BUILTIN / "deploy-model", extra / "deploy-model")
    assert not any(isinstance(c, Challenge) and c.id == "deploy-model" for c in found)


def test_a_search_folder_named_twice_is_searched_once(catalog: Catalog) -> None:
    found = find_challenge("deploy-model", [BUILTIN, BUILTIN / ".." / "challenges"], catalog)
    assert found.root == BUILTIN / "deploy-model"


def test_search_folders_are_listed_in_order(
    tmp_path: Path, make_challenge: MakeChallenge, catalog: Catalog
) -> None:
    later = make_challenge(lambda s: s.update(id="aaa-first-by-name")).parent
    (later / "deploy-model").rename(later / "aaa-first-by-name")
    ids = [c.id for c in list_challenges([BUILTIN, later], catalog) if isinstance(c, Challenge)]
    assert ids[-1] == "aaa-first-by-name" and "deploy-model" in ids[:-1]


@pytest.mark.parametrize(
    "text,expected",
    [("512m", 512 * 2**20), ("2g", 2 * 2**30), ("1.5G", int(1.5 * 2**30)), ("64MiB", 64 * 2**20)],
)
def test_sizes_parse(text: str, expected: int) -> None:
    assert parse_size(text) == expected


# incidents: the live service, the prober, faults and the schedule ---------------------------

LAB = Path(__file__).parents[1] / "integration" / "labs" / "slo-lab"


class MakeLab(Protocol):
    """The ``make_lab`` fixture."""

    def __call__(self, change: SpecChange | None = None) -> Path: ...


@pytest.fixture
def make_lab(tmp_path: Path) -> MakeLab:
    """A copy of the slo-lab challenge (with deploy-model's image recipe) whose challenge.yaml
    is edited by ``change``."""

    def make(change: SpecChange | None = None) -> Path:
        root = tmp_path / "slo-lab"
        if root.exists():
            shutil.rmtree(root)
        shutil.copytree(LAB, root)
        shutil.copytree(BUILTIN / "deploy-model" / "image", root / "image")
        if change is not None:
            spec_path = root / "challenge.yaml"
            spec = yaml.safe_load(spec_path.read_text())
            change(spec)
            spec_path.write_text(yaml.safe_dump(spec))
        return root

    return make


def test_the_slo_lab_loads_with_its_probe_faults_and_schedule(
    make_lab: MakeLab, catalog: Catalog
) -> None:
    spec = load_challenge(make_lab(), catalog).spec
    assert spec.probe is not None
    assert (spec.probe.method, spec.probe.path, spec.probe.interval_s) == ("POST", "/predict", 0.5)
    assert [(f.name, f.kind, f.root_cause) for f in spec.faults] == [
        ("error", "deploy", "config_schema_change"),
        ("slow", "deploy", "latency_regression"),
        ("wrong", "deploy", "bad_model_rollout"),
    ]
    (event,) = spec.schedule
    assert (event.name, event.inject, event.at_s.min, event.at_s.max) == (
        "incident",
        ["error"],
        4,
        4,
    )
    assert (event.scripted_at_s, event.grace_s) == (4, 60)


def test_the_probes_slo_takes_its_interval_from_the_probe(
    make_lab: MakeLab, catalog: Catalog
) -> None:
    probe = load_challenge(make_lab(), catalog).spec.probe
    assert probe is not None
    assert probe.to_slo() == Slo(
        latency_ms=200, stability_s=5, interval_s=0.5, max_gap_s=3, target=0.99
    )


def test_probe_and_slo_defaults(make_lab: MakeLab, catalog: Catalog) -> None:
    def change(spec: dict[str, Any]) -> None:
        spec["probe"] = {"canaries": "probe/canaries.jsonl", "slo": {"latency_ms": 300}}

    probe = load_challenge(make_lab(change), catalog).spec.probe
    assert probe is not None
    assert (probe.method, probe.path, probe.interval_s, probe.timeout_s) == (
        "POST",
        "/predict",
        1.0,
        2.0,
    )
    assert probe.to_slo() == Slo(
        latency_ms=300, stability_s=60, interval_s=1.0, max_gap_s=5, target=0.99
    )


def test_a_service_runs_during_the_run_only_when_asked(make_lab: MakeLab, catalog: Catalog) -> None:
    lab = load_challenge(make_lab(), catalog)
    assert lab.live_service is lab.spec.service
    deploy_model = load_challenge(BUILTIN / "deploy-model", catalog)
    assert deploy_model.spec.service is not None
    assert deploy_model.spec.service.during_run is False
    assert deploy_model.live_service is None


def test_a_live_service_may_have_its_own_resources(make_lab: MakeLab, catalog: Catalog) -> None:
    lab = load_challenge(make_lab(), catalog)
    assert lab.spec.service is not None
    assert lab.spec.service.limits == Limits(memory_bytes=128 * 2**20, cpus=0.5, pids=64)
    deploy_model = load_challenge(BUILTIN / "deploy-model", catalog)
    assert deploy_model.spec.service is not None
    assert deploy_model.spec.service.limits is None


def test_bad_service_resources_are_named(make_lab: MakeLab, catalog: Catalog) -> None:
    root = make_lab(lambda spec: spec["service"]["resources"].update(memory="1m"))
    assert "service.resources.memory" in problems_of(root, catalog)


def test_a_probe_needs_a_live_service(make_lab: MakeLab, catalog: Catalog) -> None:
    def change(spec: dict[str, Any]) -> None:
        spec["service"]["during_run"] = False
        spec.update(faults=[], schedule=[])

    message = problems_of(make_lab(change), catalog)
    assert "probe: needs a service with during_run: true to act on" in message
    assert "faults:" not in message


def test_faults_need_a_live_service(make_lab: MakeLab, catalog: Catalog) -> None:
    def change(spec: dict[str, Any]) -> None:
        del spec["service"]
        spec.update(probe=None, schedule=[])

    message = problems_of(make_lab(change), catalog)
    assert "faults: needs a service with during_run: true to act on" in message
    assert "probe:" not in message


def test_a_schedule_needs_a_probe(make_lab: MakeLab, catalog: Catalog) -> None:
    root = make_lab(lambda spec: spec.pop("probe"))
    assert "schedule: incidents need a probe to measure them" in problems_of(root, catalog)


def test_faults_without_a_schedule_are_allowed(make_lab: MakeLab, catalog: Catalog) -> None:
    spec = load_challenge(make_lab(lambda spec: spec.update(schedule=[])), catalog).spec
    assert (len(spec.faults), spec.schedule) == (3, [])


def test_unknown_fault_kind_lists_known_kinds(make_lab: MakeLab, catalog: Catalog) -> None:
    root = make_lab(lambda spec: spec["faults"][1].update(kind="chaos-monkey"))
    assert "faults.1.kind: unknown fault kind 'chaos-monkey' (known: ['deploy'" in problems_of(
        root, catalog
    )


def test_fault_params_are_validated_against_the_fault_kind(
    make_lab: MakeLab, catalog: Catalog
) -> None:
    root = make_lab(lambda spec: spec["faults"][0].update(params={"restart": "maybe", "x": 1}))
    message = problems_of(root, catalog)
    assert "faults.0.params.source: required field is missing" in message
    assert "faults.0.params.x: unknown field" in message
    assert "faults.0.params.restart:" in message and "'maybe'" in message


def test_a_schedule_naming_an_unknown_fault_is_refused(make_lab: MakeLab, catalog: Catalog) -> None:
    root = make_lab(lambda spec: spec["schedule"][0].update(inject=["error", "oom"]))
    assert (
        "schedule.0.inject.1: no fault named 'oom' (faults: ['error', 'slow', 'wrong'])"
        in problems_of(root, catalog)
    )


def test_duplicate_fault_names_are_refused(make_lab: MakeLab, catalog: Catalog) -> None:
    root = make_lab(lambda spec: spec["faults"][2].update(name="error"))
    assert "faults.2.name: 'error' is used twice" in problems_of(root, catalog)


def test_duplicate_schedule_names_are_refused(make_lab: MakeLab, catalog: Catalog) -> None:
    root = make_lab(lambda spec: spec["schedule"].append(dict(spec["schedule"][0])))
    assert "schedule.1.name: 'incident' is used twice" in problems_of(root, catalog)


def test_a_time_range_must_not_run_backwards(make_lab: MakeLab, catalog: Catalog) -> None:
    root = make_lab(lambda spec: spec["schedule"][0].update(at_s={"min": 10, "max": 5}))
    message = problems_of(root, catalog)
    assert "schedule.0.at_s:" in message and "min 10 is above max 5" in message


def test_a_scheduled_event_must_inject_some_fault(make_lab: MakeLab, catalog: Catalog) -> None:
    root = make_lab(lambda spec: spec["schedule"][0].update(inject=[]))
    assert "schedule.0.inject:" in problems_of(root, catalog)


def test_a_scheduled_event_has_default_scripted_time_and_grace(
    make_lab: MakeLab, catalog: Catalog
) -> None:
    def change(spec: dict[str, Any]) -> None:
        spec["schedule"] = [{"name": "incident", "inject": ["slow"], "at_s": {"min": 1, "max": 9}}]

    (event,) = load_challenge(make_lab(change), catalog).spec.schedule
    assert (event.scripted_at_s, event.grace_s) == (20, 120)


@pytest.mark.parametrize(
    "change,location",
    [
        (lambda probe: probe.update(method="PUT"), "probe.method"),
        (lambda probe: probe.update(path="predict"), "probe.path"),
        (lambda probe: probe.update(interval_s=0.1), "probe.interval_s"),
        (lambda probe: probe.update(timeout_s=0), "probe.timeout_s"),
        (lambda probe: probe["slo"].update(latency_ms=0), "probe.slo.latency_ms"),
        (lambda probe: probe["slo"].update(target=1.0), "probe.slo.target"),
        (lambda probe: probe["slo"].update(burn_rate=2), "probe.slo.burn_rate: unknown field"),
        (lambda probe: probe.pop("slo"), "probe.slo: required field is missing"),
        (lambda probe: probe.pop("canaries"), "probe.canaries: required field is missing"),
    ],
)
def test_probe_fields_are_checked(
    make_lab: MakeLab, catalog: Catalog, change: SpecChange, location: str
) -> None:
    root = make_lab(lambda spec: change(spec["probe"]))
    assert location in problems_of(root, catalog)


@pytest.mark.parametrize(
    "field,value",
    [("name", "Error"), ("root_cause", "Config schema"), ("symptom", "breaks")],
)
def test_fault_fields_are_checked(
    make_lab: MakeLab, catalog: Catalog, field: str, value: str
) -> None:
    root = make_lab(lambda spec: spec["faults"][0].update({field: value}))
    assert f"faults.0.{field}:" in problems_of(root, catalog)


def test_the_slow_validation_check_is_optional_with_defaults(
    make_lab: MakeLab, catalog: Catalog
) -> None:
    without = make_lab(lambda spec: spec["validation"].pop("slow"))
    assert load_challenge(without, catalog).spec.validation.slow is None
    root = make_lab(lambda spec: spec["validation"].update(slow={}))
    assert load_challenge(root, catalog).spec.validation.slow == SlowCheck(delay_s=240, margin=10)


@pytest.mark.parametrize(
    "slow,location",
    [({"margin": 150}, "validation.slow.margin"), ({"delay_s": 0}, "validation.slow.delay_s")],
)
def test_the_slow_validation_check_is_checked(
    make_lab: MakeLab, catalog: Catalog, slow: dict[str, int], location: str
) -> None:
    root = make_lab(lambda spec: spec["validation"].update(slow=slow))
    assert location in problems_of(root, catalog)


def test_looking_up_an_unknown_fault_names_the_known_ones(
    make_lab: MakeLab, catalog: Catalog
) -> None:
    lab = load_challenge(make_lab(), catalog)
    assert lab.fault("slow").symptom == "every request takes 400 ms"
    with pytest.raises(SpecError, match=r"no fault 'oom' \(faults: \['error', 'slow', 'wrong'\]\)"):
        lab.fault("oom")
