"""The validate gate's judgement, with a fake runner standing in for real runs (the real
gate runs on every built-in challenge in tests/e2e)."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from prodproven.runner import plugins
from prodproven.runner.gate import validate
from prodproven.runner.gate.cheats import Cheat, CheatContext, NotApplicable, Probe
from prodproven.runner.gate.validate import Tier, Validation, judge_cheat, validate_challenge
from prodproven.runner.grading.uncertainty import load_regrading
from prodproven.runner.runs.store import Run, Status, utcnow
from prodproven.runner.spec.challenge import Challenge, load_challenge
from prodproven.runner.spec.prepare import Material
from tests.conftest import BUILTIN, MakeChallenge
from tests.unit.fakes import as_runner
from tests.unit.resultsupport import grader_entry


def document(
    scores: dict[str, float],
    total: float,
    findings: tuple[str, ...] = (),
    passed: bool | None = None,
) -> dict[str, Any]:
    return {
        "score": total,
        "passed": total >= 70 if passed is None else passed,
        "requirements": [],
        "graders": [grader_entry(name, score) for name, score in scores.items()],
        "integrity": [
            {"grader": name, "kind": "forged_output", "message": "forged"} for name in findings
        ],
    }


def make_run(run_id: str, doc: dict[str, Any], status: Status = Status.graded) -> Run:
    return Run(
        id=run_id,
        challenge_id="deploy-model",
        challenge_version="1.1.0",
        challenge_path="",
        candidate="validate",
        mode="scripted",
        variant=None,
        status=status,
        created_at=utcnow(),
        deadline=None,
        submitted_at=None,
        graded_at=None,
        archive_path=None,
        archive_sha256=None,
        service_archives=None,
        score=doc.get("score"),
        result=doc,
        error=None if status is Status.graded else "boom",
        grading_attempts=1,
    )


REFERENCE = {"correctness": 1.0, "robustness": 1.0, "load": 0.95, "batch-load": 1.0}
STARTER = {"correctness": 0.0, "robustness": 0.0, "load": 0.0, "batch-load": 0.0}


@dataclass
class TableRunner:
    """Scores submissions from a table; re-grading returns the next of ``regrades``."""

    material_: Material
    regrades: list[dict[str, Any]] = field(default_factory=list)
    runs: list[str] = field(default_factory=list)
    data_dir: Path = Path("/nonexistent")
    ladder: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def settings(self) -> Any:
        return type("S", (), {"max_archive_mb": 512, "data_dir": self.data_dir})()

    catalog: Any = field(default_factory=plugins.catalog)

    def report(self, line: str) -> None:
        pass

    def material(self, challenge: Challenge, variant: int | None = None) -> Material:
        return self.material_

    def run_scripted(
        self, challenge: Challenge, submission: Path | None, candidate: str, **_: Any
    ) -> Run:
        self.runs.append(candidate)
        if candidate == "validate-reference":
            return make_run("ref", document(REFERENCE, 98.0))
        if candidate == "validate-starter":
            return make_run("start", document(STARTER, 0.0))
        if submission is not None and submission.name in self.ladder:
            return make_run(candidate, self.ladder[submission.name])
        return make_run(candidate, document(STARTER, 0.0))

    def grade(self, run_id: str) -> Run:
        return make_run(run_id, self.regrades.pop(0))


class ConstantCheat(Cheat):
    name = "constant"
    trick = "answers one value"

    def build(self, ctx: CheatContext) -> Probe | NotApplicable:
        (ctx.dest / "start.sh").write_text("#!/bin/sh\n")
        return Probe(("correctness", "load"), "a constant server")


class IdleCheat(Cheat):
    name = "idle"
    trick = "does nothing useful"

    def build(self, ctx: CheatContext) -> Probe | NotApplicable:
        return NotApplicable("no grader it attacks")


@pytest.fixture
def deploy(make_challenge: MakeChallenge, tmp_path: Path) -> Challenge:
    """deploy-model without its calibration ladder (tests below add their own)."""
    return load_challenge(
        make_challenge(lambda spec: spec.pop("calibration", None)), plugins.catalog()
    )


@pytest.fixture
def runner(deploy: Challenge, tmp_path: Path) -> TableRunner:
    hidden = tmp_path / "hidden"
    for rel in (
        "correctness/inputs.json",
        "correctness/expected.json",
        "load/single.json",
        "load/batch256.json",
        "tests/test_x.py",
    ):
        (hidden / rel).parent.mkdir(parents=True, exist_ok=True)
        (hidden / rel).write_text(json.dumps([rel]))
    material = Material(workspace=(deploy.path("workspace"),), hidden=(hidden,), setup=())
    steady = document(REFERENCE, 98.0)
    return TableRunner(material, regrades=[steady, steady], data_dir=tmp_path / "data")


def test_a_sound_challenge_passes_every_step(runner: TableRunner, deploy: Challenge) -> None:
    verdict = validate_challenge(as_runner(runner), deploy, [ConstantCheat(), IdleCheat()])
    assert verdict["ok"], json.dumps(verdict, indent=1)
    sections = [(c["section"], c["label"]) for c in verdict["checks"]]
    assert sections == [
        ("static", "files"),
        ("static", "leaks"),
        ("static", "sizes"),
        ("reference", "reference"),
        ("starter", "starter"),
        ("cheat", "constant"),
        ("cheat", "idle"),
        ("noise", "noise"),
    ]
    assert runner.runs == ["validate-reference", "validate-starter", "validate-cheat-constant"]
    idle = verdict["checks"][6]
    assert idle["skipped"] and idle["detail"] == "no grader it attacks"


def test_with_jobs_the_scripted_runs_go_at_once_and_keep_their_order(
    runner: TableRunner, deploy: Challenge, monkeypatch: pytest.MonkeyPatch
) -> None:
    together = threading.Barrier(3, timeout=10)
    scripted = runner.run_scripted

    def run_scripted(*args: Any, **kwargs: Any) -> Run:
        together.wait()  # breaks (and the gate fails) unless all three runs are under way
        return scripted(*args, **kwargs)

    monkeypatch.setattr(runner, "run_scripted", run_scripted)
    verdict = validate_challenge(as_runner(runner), deploy, [ConstantCheat()], jobs=3)
    assert verdict["ok"], json.dumps(verdict, indent=1)
    labels = [c["label"] for c in verdict["checks"] if c["section"] != "static"]
    assert labels == ["reference", "starter", "constant", "noise"]


def test_a_static_problem_stops_the_gate_before_anything_runs(
    runner: TableRunner, deploy: Challenge
) -> None:
    deploy.path("workspace/start.sh").unlink()
    verdict = validate_challenge(as_runner(runner), deploy, [ConstantCheat()])
    assert not verdict["ok"]
    assert {c["section"] for c in verdict["checks"]} == {"static"}
    assert runner.runs == []


def test_a_reference_below_its_band_fails(
    runner: TableRunner, deploy: Challenge, monkeypatch: pytest.MonkeyPatch
) -> None:
    low = document(REFERENCE, 80.0)
    monkeypatch.setattr(runner, "run_scripted", lambda *a, **k: make_run("ref", low))
    verdict = validate_challenge(as_runner(runner), deploy, [])
    reference = next(c for c in verdict["checks"] if c["section"] == "reference")
    assert not reference["ok"] and reference["detail"] == "scored 80.0, band >= 90; passed"


def test_noise_fails_a_grader_whose_spread_exceeds_the_tolerance(
    runner: TableRunner, deploy: Challenge
) -> None:
    runner.regrades = [
        document({**REFERENCE, "load": 0.70}, 90.0),
        document({**REFERENCE, "load": 0.99}, 99.0),
    ]
    verdict = validate_challenge(as_runner(runner), deploy, [])
    noise = verdict["checks"][-1]
    assert not noise["ok"]
    assert noise["spread"]["load"] == 29.0 and noise["spread"]["total"] == 9.0
    assert noise["detail"] == "flaky (spread over 10 points): load 29"
    assert noise["scores"]["load"] == [95.0, 70.0, 99.0]


def test_noise_grades_the_reference_as_often_as_asked(
    runner: TableRunner, deploy: Challenge
) -> None:
    runner.regrades = [document(REFERENCE, 98.0)] * 4
    verdict = validate_challenge(as_runner(runner), deploy, [], repeats=5)
    assert verdict["checks"][-1]["repeats"] == 5 and runner.regrades == []


def test_noise_records_each_graders_regrading_spread_for_later_gradings(
    runner: TableRunner, deploy: Challenge
) -> None:
    runner.regrades = [
        document({**REFERENCE, "load": 0.85}, 95.0),
        document({**REFERENCE, "load": 0.90}, 96.0),
    ]
    validate_challenge(as_runner(runner), deploy, [])
    recorded = load_regrading(runner.data_dir, "deploy-model", deploy.spec.version)
    assert recorded is not None and recorded.gradings == 3
    assert recorded.sd["load"] == pytest.approx(0.05, abs=1e-4)  # sd of 0.95, 0.85, 0.90
    assert recorded.sd["correctness"] == 0.0


def laddered(make_challenge: MakeChallenge, order: list[str]) -> Challenge:
    """deploy-model with a two-rung calibration ladder and the given order."""

    def change(spec: dict[str, Any]) -> None:
        spec["calibration"] = {
            "submissions": [
                {"name": "slow", "passed": False, "band": {"max": 60}, "why": "misses its SLO"},
                {"name": "fine", "passed": True, "band": {"min": 85}, "why": "a minor flaw only"},
            ],
            "order": order,
        }

    root = make_challenge(change)
    for name in ("slow", "fine"):
        (root / "calibration" / name).mkdir(parents=True, exist_ok=True)
    return load_challenge(root, plugins.catalog())


def test_calibration_submissions_land_in_their_bands_with_the_expected_verdict(
    runner: TableRunner, make_challenge: MakeChallenge
) -> None:
    challenge = laddered(make_challenge, ["reference", "fine", "slow", "starter"])
    runner.ladder = {
        "slow": document(REFERENCE, 55.0, passed=False),
        "fine": document(REFERENCE, 90.0, passed=True),
    }
    verdict = validate_challenge(as_runner(runner), challenge, [])
    assert verdict["ok"], json.dumps(verdict, indent=1)
    ladder = {c["label"]: c for c in verdict["checks"] if c["section"] in ("calibration", "order")}
    assert ladder["slow"]["detail"] == "scored 55.0, band <= 60; not passed"
    assert ladder["order"]["detail"] == "reference 98.0 > fine 90.0 > slow 55.0 > starter 0.0"


def test_calibration_submissions_start_before_the_reference_and_are_judged_after_it(
    runner: TableRunner, make_challenge: MakeChallenge
) -> None:
    challenge = laddered(make_challenge, ["reference", "fine", "slow", "starter"])
    runner.ladder = {
        "slow": document(REFERENCE, 55.0, passed=False),
        "fine": document(REFERENCE, 90.0, passed=True),
    }
    verdict = validate_challenge(as_runner(runner), challenge, [ConstantCheat()])
    assert runner.runs[:2] == ["validate-calibration", "validate-calibration"]
    assert runner.runs[2:] == ["validate-reference", "validate-starter", "validate-cheat-constant"]
    labels = [c["label"] for c in verdict["checks"] if c["section"] not in ("static", "order")]
    assert challenge.spec.calibration is not None
    ladder = [s.name for s in challenge.spec.calibration.submissions]
    assert labels == ["reference", "starter", *ladder, "constant", "noise"]


def test_a_calibration_submission_with_the_wrong_verdict_fails_even_in_its_band(
    runner: TableRunner, make_challenge: MakeChallenge
) -> None:
    challenge = laddered(make_challenge, [])
    runner.ladder = {
        "slow": document(REFERENCE, 58.0, passed=True),
        "fine": document(REFERENCE, 90.0, passed=True),
    }
    verdict = validate_challenge(as_runner(runner), challenge, [])
    slow = next(c for c in verdict["checks"] if c["label"] == "slow")
    assert not verdict["ok"] and not slow["ok"]
    assert slow["detail"] == "scored 58.0, band <= 60; passed, expected not passed"


def test_a_ladder_out_of_order_fails_the_order_check(
    runner: TableRunner, make_challenge: MakeChallenge
) -> None:
    challenge = laddered(make_challenge, ["reference", "slow", "fine"])
    runner.ladder = {
        "slow": document(REFERENCE, 55.0, passed=False),
        "fine": document(REFERENCE, 90.0, passed=True),
    }
    verdict = validate_challenge(as_runner(runner), challenge, [])
    order = next(c for c in verdict["checks"] if c["section"] == "order")
    assert not order["ok"] and order["detail"] == "fine (90.0) scored above slow (55.0)"


def test_a_reference_that_misses_a_requirement_fails_even_in_its_band(
    runner: TableRunner, deploy: Challenge, monkeypatch: pytest.MonkeyPatch
) -> None:
    doc = document(REFERENCE, 95.0, passed=False)
    monkeypatch.setattr(runner, "run_scripted", lambda *a, **k: make_run("ref", doc))
    verdict = validate_challenge(as_runner(runner), deploy, [])
    reference = next(c for c in verdict["checks"] if c["section"] == "reference")
    assert not reference["ok"]
    assert reference["detail"] == "scored 95.0, band >= 90; not passed, expected passed"


PROBE = Probe(("correctness", "load"), "a constant server")


def test_a_cheat_scoring_zero_on_every_attacked_grader_passes() -> None:
    run = make_run("c", document({"correctness": 0.0, "load": 0.0, "robustness": 0.4}, 10.0))
    check = judge_cheat(ConstantCheat(), PROBE, run, hits=[])
    assert check.ok and check.detail == "correctness: 0, load: 0"


def test_a_cheat_scoring_on_an_attacked_grader_fails() -> None:
    run = make_run("c", document({"correctness": 0.0, "load": 0.83}, 40.0))
    check = judge_cheat(ConstantCheat(), PROBE, run, hits=[])
    assert not check.ok and check.detail == "load scored 0.83 without a finding"


def test_a_cheat_caught_by_an_integrity_finding_passes() -> None:
    run = make_run("c", document({"correctness": 0.0, "load": 0.5}, 20.0, findings=("load",)))
    check = judge_cheat(ConstantCheat(), PROBE, run, hits=[])
    assert check.ok and check.detail == "correctness: 0, load: finding"


def test_a_cheat_that_reached_the_answer_server_fails_whatever_it_scored() -> None:
    run = make_run("c", document({"correctness": 0.0, "load": 0.0}, 0.0))
    hits: list[dict[str, str | None]] = [
        {"from": "172.17.0.5", "path": "/key", "visitor": "constant"}
    ]
    check = judge_cheat(ConstantCheat(), PROBE, run, hits=hits)
    assert not check.ok and check.detail == "reached the answer server 1 times from 172.17.0.5"


@pytest.mark.parametrize(("passed", "ok"), [(True, False), (False, True)])
def test_a_cheat_that_must_fail_the_run_fails_the_check_when_the_run_passed(
    passed: bool, ok: bool
) -> None:
    run = make_run("c", document({"correctness": 0.0, "load": 0.0}, 75.0, passed=passed))
    probe = Probe(("correctness", "load"), "over the quota", fails_run=True)
    check = judge_cheat(ConstantCheat(), probe, run, hits=[])
    assert check.ok is ok and check.data["passed"] is passed
    assert ("the run passed" in check.detail) is not ok


def test_a_cheat_whose_run_did_not_grade_fails() -> None:
    run = make_run("c", document({}, 0.0), status=Status.errored)
    check = judge_cheat(ConstantCheat(), PROBE, run, hits=[])
    assert not check.ok and check.detail.endswith("the run ended errored: boom")


def test_the_ci_tier_leaves_out_the_noise_gradings_and_records_no_regrading(
    runner: TableRunner, deploy: Challenge
) -> None:
    verdict = validate_challenge(as_runner(runner), deploy, [], tier=Tier.ci)
    noise = verdict["checks"][-1]
    assert verdict["ok"] and noise["section"] == "noise" and noise["skipped"]
    assert len(runner.regrades) == 2  # nothing was graded again
    assert load_regrading(runner.data_dir, deploy.id, deploy.spec.version) is None


def test_the_ci_tier_runs_the_reference_against_the_drawn_fault_only(runner: TableRunner) -> None:
    incidents = load_challenge(BUILTIN / "incident-response", plugins.catalog())
    labels: dict[Tier, list[str]] = {}
    for tier in Tier:
        gate = Validation(as_runner(runner), incidents, [], 3, tier=tier)
        labels[tier] = [planned.label for planned in validate._references(gate)]
    assert labels[Tier.release] == [f"reference ({f.name})" for f in incidents.spec.faults]
    assert labels[Tier.ci] == ["reference (bad-model-rollout)"]


def test_a_submission_extending_the_reference_runs_the_solution_overlaid_with_its_files(
    runner: TableRunner, make_challenge: MakeChallenge, monkeypatch: pytest.MonkeyPatch
) -> None:
    rung = {"name": "persona", "extends": "reference", "passed": True, "band": {"min": 0}}
    rung["why"] = "the reference, told to skip a step"
    root = make_challenge(lambda spec: spec.update(calibration={"submissions": [rung]}))
    own = root / "calibration" / "persona"
    (own / ".autopilot").mkdir(parents=True)
    (own / ".autopilot" / "persona.json").write_text('{"skip": "minor"}')
    (own / "start.sh").write_text("#!/bin/sh\necho persona\n")
    challenge = load_challenge(root, plugins.catalog())
    ran: dict[str, str] = {}
    scripted = runner.run_scripted

    def recording(challenge: Challenge, submission: Path | None, candidate: str, **kw: Any) -> Run:
        if candidate == "validate-calibration" and submission is not None:
            files = (p for p in submission.rglob("*") if p.is_file())
            ran.update({p.relative_to(submission).as_posix(): p.read_text() for p in files})
        return scripted(challenge, submission, candidate, **kw)

    monkeypatch.setattr(runner, "run_scripted", recording)
    validate_challenge(as_runner(runner), challenge, [], tier=Tier.ci)
    solution = root / "solution"
    assert ran == {
        "app.py": (solution / "app.py").read_text(),
        "start.sh": "#!/bin/sh\necho persona\n",
        ".autopilot/persona.json": '{"skip": "minor"}',
    }
    assert sorted(p.name for p in solution.iterdir()) == ["app.py", "start.sh"]
