"""The release tier (``infra/dev.sh gate``; not part of CI): every built-in challenge through
the whole gate, ``challenge validate --tier release``: the reference against every fault of its
catalogue, the noise gradings (``GATE_REPEATS``, default 5; capacity-plan 3), and the spread
they measure carried into later gradings' uncertainty. Each verdict is printed, to quote in an
issue's note."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from prodproven.runner import plugins
from prodproven.runner.spec.challenge import load_challenge
from tests.conftest import BUILTIN
from tests.e2e.conftest import check, cli_json, failures, validate_json

pytestmark = [pytest.mark.docker, pytest.mark.e2e]

REPEATS_OF = {"capacity-plan": 3}
"""Noise gradings when ``GATE_REPEATS`` does not say: capacity-plan's each drive the whole
launch profile through a fresh deployment (about two minutes), so three, as its issue asks."""
JOBS = {"incident-response": 3, "fix-drift": 2, "review-ai-change": 2}
"""Scripted runs at once: incident-response's runs mostly wait for their incident; fix-drift's
and review-ai-change's graders time nothing (review-ai-change's claims compare CPU time)."""


def repeats(challenge: str) -> int:
    return int(os.environ.get("GATE_REPEATS") or REPEATS_OF.get(challenge, 5))


CHALLENGES = sorted(p.name for p in BUILTIN.iterdir() if (p / "challenge.yaml").is_file())


@pytest.fixture(scope="module", params=CHALLENGES)
def gated(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> tuple[str, Path, dict[str, Any]]:
    challenge: str = request.param
    data_dir = tmp_path_factory.mktemp(f"release-{challenge}")
    jobs = str(JOBS.get(challenge, 1))
    verdict = validate_json(
        challenge, data_dir, "--repeats", str(repeats(challenge)), "--jobs", jobs, tier="release"
    )
    print(f"\n{challenge}: {'ok' if verdict['ok'] else 'FAILED'}")
    for c in verdict["checks"]:
        mark = "skip" if c["skipped"] else ("ok" if c["ok"] else "FAIL")
        print(f"  {mark:4} {c['section']:11} {c['label']}: {c['detail']}")
    return challenge, data_dir, verdict


def test_the_release_gate_passes(gated: tuple[str, Path, dict[str, Any]]) -> None:
    _, _, verdict = gated
    assert verdict["ok"], failures(verdict)


def test_the_reference_meets_every_fault_of_the_catalogue(
    gated: tuple[str, Path, dict[str, Any]],
) -> None:
    challenge, _, verdict = gated
    spec = load_challenge(BUILTIN / challenge, plugins.catalog()).spec
    expected = [f"reference ({f.name})" for f in spec.faults] if spec.schedule else ["reference"]
    references = [c for c in verdict["checks"] if c["section"] == "reference"]
    assert [c["label"] for c in references] == expected
    assert all(c["ok"] for c in references), failures(verdict)


def test_the_reference_was_graded_as_often_as_asked_for_noise(
    gated: tuple[str, Path, dict[str, Any]],
) -> None:
    challenge, _, verdict = gated
    noise = check(verdict, "noise")
    assert noise["repeats"] == repeats(challenge) and not noise["skipped"]
    assert all(len(scores) == repeats(challenge) for scores in noise["scores"].values())


def test_later_gradings_carry_the_gates_regrading_spread(
    gated: tuple[str, Path, dict[str, Any]],
) -> None:
    challenge, data_dir, verdict = gated
    run_id = check(verdict, "noise")["run_id"]
    again = cli_json("grade", run_id, "--json", data_dir=data_dir)
    basis = again["uncertainty"]["basis"]
    assert f"re-grading spread from the gate ({repeats(challenge)} gradings" in basis
