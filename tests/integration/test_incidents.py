"""The SLO prober, the incident schedule and fault injection, against the real engine.

A small challenge (tests/integration/labs/slo-lab) runs a standard-library service whose
health is scripted by the file /workspace/mode; the tests change that file at known times, or
let the schedule deploy a fault, and check what the prober and the supervisor recorded.

Tests that time the prober, the schedule or the service (to the second, or a sample rate) are
marked ``timing``: infra/dev.sh runs them alone, the others in parallel.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from prodproven.graders.slo import windows
from prodproven.runner import plugins
from prodproven.runner.config import Settings
from prodproven.runner.lifecycle import supervisor
from prodproven.runner.lifecycle.core import Runner
from prodproven.runner.lifecycle.supervisor import RunSupervisor
from prodproven.runner.runs.prober import to_sample
from prodproven.runner.runs.schedule import Planned, incident_log
from prodproven.runner.runs.store import ProbeSampleRow, Run, Status, utcnow
from prodproven.runner.spec.challenge import Challenge, load_challenge
from prodproven.sandbox.images import ImageBuilder
from tests.conftest import BUILTIN
from tests.integration.conftest import runner_for

pytestmark = pytest.mark.docker

LAB = Path(__file__).parent / "labs" / "slo-lab"


@pytest.fixture
def make_lab(tmp_path: Path) -> Callable[..., Challenge]:
    """The lab, optionally with its spec edited by ``change``."""

    def make(change: Callable[[dict[str, Any]], None] | None = None) -> Challenge:
        root = tmp_path / "slo-lab"
        shutil.copytree(LAB, root)
        shutil.copytree(BUILTIN / "deploy-model" / "image", root / "image")
        if change is not None:
            spec = yaml.safe_load((root / "challenge.yaml").read_text())
            change(spec)
            (root / "challenge.yaml").write_text(yaml.safe_dump(spec))
        return load_challenge(root, plugins.catalog())

    return make


@pytest.fixture
def lab_settings(tmp_path: Path) -> Settings:
    return Settings.from_env(data_dir=tmp_path / "data")


@pytest.fixture
def lab_runner(images: ImageBuilder, runtime_image: str, lab_settings: Settings) -> Runner:
    return runner_for(lab_settings, images, runtime_image)


@pytest.fixture
def started(lab_runner: Runner) -> Iterator[Callable[[Challenge], Run]]:
    runs: list[str] = []

    def start(challenge: Challenge) -> Run:
        run = lab_runner.start(challenge, "ada")
        runs.append(run.id)
        return run

    yield start
    for run_id in runs:
        lab_runner.backend.remove_run(run_id)


def set_mode(runner: Runner, run_id: str, mode: str) -> float:
    _, workspace = runner.workspace(run_id)
    workspace.exec(["bash", "-c", f"echo {mode} > /workspace/mode"], timeout=10)
    return time.time()


def kinds(runner: Runner, run_id: str) -> list[str]:
    return [e.kind for e in runner.store.events(run_id) if e.kind.startswith("incident.")]


def wait_until(check: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.25)


@pytest.mark.timing
def test_prober_windows_follow_the_scripted_health(
    lab_runner: Runner, make_lab: Callable[..., Challenge], started: Callable[[Challenge], Run]
) -> None:
    lab = make_lab(lambda spec: spec.update(schedule=[]))
    run = started(lab)
    supervisor = RunSupervisor(lab_runner, run.id)
    with supervisor.background():
        time.sleep(4)
        switches = [(set_mode(lab_runner, run.id, mode), mode) for mode in ("slow",)]
        time.sleep(4)
        switches += [(set_mode(lab_runner, run.id, "wrong"), "wrong")]
        time.sleep(4)
        switches += [(set_mode(lab_runner, run.id, "error"), "error")]
        time.sleep(4)
        switches += [(set_mode(lab_runner, run.id, "ok"), "ok")]
        time.sleep(7)
    assert lab.spec.probe is not None
    slo = lab.spec.probe.to_slo()
    samples = [to_sample(row) for row in lab_runner.store.samples(run.id)]
    found = windows(samples, slo)

    assert [w.healthy for w in found] == [True, False, True]
    bad = found[1]
    assert abs(bad.start - switches[0][0]) <= 1.0
    assert abs(bad.end - switches[-1][0]) <= 1.0
    assert found[2].duration_s >= slo.stability_s

    def problems_between(start: float, end: float) -> set[str | None]:
        return {s.problem(slo) for s in samples if start + 0.6 <= s.t <= end - 0.6}

    (slow_at, _), (wrong_at, _), (error_at, _), (ok_at, _) = switches
    assert problems_between(slow_at, wrong_at) == {"slower than 200 ms"}
    assert problems_between(wrong_at, error_at) == {"wrong answers"}
    assert problems_between(error_at, ok_at) == {"HTTP 500"}


@pytest.mark.timing
def test_the_prober_samples_at_its_interval(
    lab_runner: Runner, make_lab: Callable[..., Challenge], started: Callable[[Challenge], Run]
) -> None:
    lab = make_lab(lambda spec: spec.update(schedule=[]))
    run = started(lab)
    with RunSupervisor(lab_runner, run.id).background():
        time.sleep(6)
    times = sorted(row.t for row in lab_runner.store.samples(run.id))
    gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
    assert len(times) >= 10
    assert max(gaps) < 0.5 + 0.2
    assert all(row.correct for row in lab_runner.store.samples(run.id))


@pytest.mark.timing
def test_a_scheduled_fault_fires_on_time_and_is_logged_before_it_acts(
    lab_runner: Runner, make_lab: Callable[..., Challenge], started: Callable[[Challenge], Run]
) -> None:
    run = started(make_lab())
    planned = incident_log(lab_runner.store, run.id).planned()[0]
    with RunSupervisor(lab_runner, run.id).background() as supervisor:
        assert supervisor.wait_outcome("incident", timeout=30) == "incident.injected"
        time.sleep(2)
    events = {e.kind: e for e in lab_runner.store.events(run.id)}
    assert kinds(lab_runner, run.id) == [
        "incident.planned",
        "incident.injecting",
        "incident.injected",
    ]
    assert 0 <= (events["incident.injecting"].at - planned.at).total_seconds() < 1.0
    injected_at = events["incident.injected"].data["at"]
    after = [row for row in lab_runner.store.samples(run.id) if row.t > injected_at + 0.5]
    assert after and all(row.status == 500 for row in after)


@pytest.mark.timing
def test_a_pending_incident_fires_late_after_the_supervisor_is_killed(
    lab_runner: Runner,
    make_lab: Callable[..., Challenge],
    started: Callable[[Challenge], Run],
    lab_settings: Settings,
) -> None:
    run = started(make_lab())
    env = {**os.environ, "PRODPROVEN_DATA_DIR": str(lab_settings.data_dir)}
    command = [sys.executable, "-m", "prodproven.runner.cli", "supervise", run.id]
    first = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    time.sleep(1.5)
    first.send_signal(signal.SIGKILL)
    first.wait()
    planned = incident_log(lab_runner.store, run.id).planned()[0]
    wait_until(lambda: time.time() > planned.at.timestamp() + 3, timeout=30)
    assert kinds(lab_runner, run.id) == ["incident.planned"]

    second = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        wait_until(lambda: "incident.injected" in kinds(lab_runner, run.id), timeout=30)
    finally:
        second.terminate()
        second.wait(timeout=10)
    late = next(e for e in lab_runner.store.events(run.id) if e.kind == "incident.injecting")
    assert late.data["late_s"] >= 3


def test_a_pending_incident_past_its_grace_is_recorded_as_missed(
    lab_runner: Runner, make_lab: Callable[..., Challenge], started: Callable[[Challenge], Run]
) -> None:
    def short_grace(spec: dict[str, Any]) -> None:
        spec["schedule"][0]["grace_s"] = 1

    run = started(make_lab(short_grace))
    planned = incident_log(lab_runner.store, run.id).planned()[0]
    wait_until(lambda: time.time() > planned.at.timestamp() + 2, timeout=30)
    with RunSupervisor(lab_runner, run.id).background() as supervisor:
        assert supervisor.wait_outcome("incident", timeout=10) == "incident.missed"
    missed = next(e for e in lab_runner.store.events(run.id) if e.kind == "incident.missed")
    assert "past its grace of 1 s" in missed.data["reason"]


def test_a_second_supervisor_on_the_same_run_is_refused(
    lab_runner: Runner, make_lab: Callable[..., Challenge], started: Callable[[Challenge], Run]
) -> None:
    run = started(make_lab(lambda spec: spec.update(schedule=[])))
    with RunSupervisor(lab_runner, run.id).background():
        time.sleep(0.5)
        with pytest.raises(Exception, match="already supervised"):
            RunSupervisor(lab_runner, run.id).run()


def test_the_supervisor_submits_and_grades_at_the_deadline(
    lab_runner: Runner, make_lab: Callable[..., Challenge]
) -> None:
    lab = make_lab(lambda spec: spec.update(time_limit_minutes=0.25))
    run = lab_runner.start(lab, "ada")
    try:
        RunSupervisor(lab_runner, run.id, autosubmit=True).run()
        done = lab_runner.store.get(run.id)
        assert done.status == Status.graded
        assert "deadline.reached" in [e.kind for e in lab_runner.store.events(run.id)]
    finally:
        lab_runner.backend.remove_run(run.id)


@pytest.mark.timing
def test_submit_keeps_the_samples_the_prober_took_until_the_end(
    lab_runner: Runner, make_lab: Callable[..., Challenge]
) -> None:
    lab = make_lab(lambda spec: spec.update(schedule=[]))
    run = lab_runner.start(lab, "ada")
    try:
        time.sleep(4)  # nobody supervises: the samples stay in the prober until submit
        assert lab_runner.store.samples(run.id) == []
        lab_runner.submit(run.id)
        assert len(lab_runner.store.samples(run.id)) >= 6
    finally:
        lab_runner.backend.remove_run(run.id)


# The catalogue of incident-response: each fault, injected into the real challenge's service,
# must show its documented symptom to the prober (and nothing before it was injected).
INCIDENT = BUILTIN / "incident-response"
SYMPTOMS: dict[str, Callable[[list[ProbeSampleRow]], bool]] = {
    "bad-model-rollout": lambda rows: any(r.status == 200 and r.correct is False for r in rows),
    "latency-regression": lambda rows: any(
        r.status == 200 and r.correct and (r.latency_ms or 0) > 250 for r in rows
    ),
    "memory-leak": lambda rows: any(r.status is None or r.status >= 500 for r in rows),
    "schema-change": lambda rows: any(r.status == 422 for r in rows),
}


def oom_kills(runner: Runner, run_id: str) -> int:
    _, workspace = runner.workspace(run_id)
    log = workspace.exec(["cat", "/workspace/service/logs/service.log"], timeout=10).stdout
    return log.count("signal 9")


CI_FAULT = "bad-model-rollout"
"""The fault CI injects; the others are the release tier's (``infra/dev.sh gate``)."""


@pytest.mark.timing  # a healthy prober first (1 s timeout), then latency
@pytest.mark.parametrize(
    "fault",
    [
        pytest.param(fault, marks=() if fault == CI_FAULT else pytest.mark.release)
        for fault in sorted(SYMPTOMS)
    ],
)
def test_each_incident_response_fault_shows_its_symptom(
    fault: str, lab_runner: Runner, started: Callable[[Challenge], Run]
) -> None:
    challenge = load_challenge(INCIDENT, plugins.catalog())
    run = started(challenge)
    supervisor = RunSupervisor(lab_runner, run.id)
    pod, _ = lab_runner.workspace(run.id)
    time.sleep(3)
    supervisor.poll_prober(pod)
    before = lab_runner.store.samples(run.id)
    assert before and all(row.status == 200 and row.correct for row in before)

    supervisor.fire(Planned(event="test", fault=fault, at=utcnow(), grace_s=0), pod)
    assert incident_log(lab_runner.store, run.id).outcome("test") == "incident.injected"
    injected = time.time()

    def symptom_seen() -> bool:
        supervisor.poll_prober(pod)
        after = [row for row in lab_runner.store.samples(run.id) if row.t > injected]
        return SYMPTOMS[fault](after)

    wait_until(symptom_seen, timeout=90)
    if fault == "memory-leak":  # killed and restarted, again and again
        wait_until(lambda: oom_kills(lab_runner, run.id) >= 2, timeout=120)


def test_start_launches_the_data_directory_supervisor_that_fires_the_incident(
    lab_runner: Runner, make_lab: Callable[..., Challenge], lab_settings: Settings
) -> None:
    lab = make_lab()
    env = {**os.environ, "PRODPROVEN_DATA_DIR": str(lab_settings.data_dir)}
    cli = [sys.executable, "-m", "prodproven.runner.cli"]
    started = subprocess.run(
        [*cli, "start", str(lab.root), "--candidate", "ada", "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert started.returncode == 0, started.stderr[-2000:]
    run_id = yaml.safe_load(started.stdout)["run_id"]
    lock = supervisor.lock_path(lab_settings)
    try:
        wait_until(lambda: "incident.injected" in kinds(lab_runner, run_id), timeout=60)
        spawned = next(
            e.data for e in lab_runner.store.events(run_id) if e.kind == "supervisor.spawned"
        )
        assert supervisor.holder(lock) == spawned["pid"]
        submitted = subprocess.run(
            [*cli, "submit", run_id, "--json"], env=env, capture_output=True, timeout=300
        )
        assert submitted.returncode == 0, submitted.stderr[-2000:]
        assert lab_runner.store.get(run_id).status == Status.graded
    finally:
        pid = supervisor.holder(lock)
        if pid is not None:  # it would stop a minute after its last run
            os.kill(pid, signal.SIGTERM)
        lab_runner.backend.remove_run(run_id)
