"""The incident sections of a challenge spec (runner/spec/incidents.py): the live service, the
prober, faults and the schedule, on a copy of the SLO lab (tests/integration/labs/slo-lab)."""

from __future__ import annotations

from typing import Any

import pytest

from prodproven.graders.slo import Slo
from prodproven.runner.errors import SpecError
from prodproven.runner.spec.challenge import Catalog, load_challenge
from prodproven.sandbox.environment import Limits
from tests.conftest import BUILTIN, MakeLab, SpecChange
from tests.unit.specsupport import problems_of


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


def test_looking_up_an_unknown_fault_names_the_known_ones(
    make_lab: MakeLab, catalog: Catalog
) -> None:
    lab = load_challenge(make_lab(), catalog)
    assert lab.fault("slow").symptom == "every request takes 400 ms"
    with pytest.raises(SpecError, match=r"no fault 'oom' \(faults: \['error', 'slow', 'wrong'\]\)"):
        lab.fault("oom")
