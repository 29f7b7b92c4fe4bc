"""What the candidate reads matches what is graded: every built-in brief's "How you are
graded" names each requirement of its spec exactly, with the thresholds the graders use."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from prodproven.runner import plugins
from prodproven.runner.spec.challenge import Challenge, ChallengeSpec, find_challenge
from prodproven.runner.spec.parts import GraderSpec
from tests.conftest import BUILTIN

CHALLENGES = sorted(p.name for p in BUILTIN.iterdir() if (p / "challenge.yaml").is_file())


def graded_section(challenge: Challenge) -> str:
    brief = challenge.brief
    assert "## How you are graded" in brief, f"{challenge.id}: no 'How you are graded' section"
    return brief.split("## How you are graded", 1)[1].split("\n## ", 1)[0]


def listed_requirements(section: str) -> list[str]:
    """The bold names of the bullets under the section's "### Requirements" heading."""
    block = section.split("### Requirements", 1)[1].split("\n### ", 1)[0]
    return re.findall(r"^- \*\*(.+?)\*\*", block, flags=re.M)


def percent(share: float) -> str:
    return f"{share * 100:g}%"


def thresholds(spec: ChallengeSpec, grader: GraderSpec, condition: str) -> Iterator[str]:
    """The numbers a requirement's condition is judged against, as a brief states them."""
    params: Any = plugins.graders()[grader.kind].Params.model_validate(grader.params)
    if grader.kind in ("load", "search-load") and condition == "slo":
        yield f"{params.rate:g} requests/second"
        yield f"p95 at or under {params.slo.p95_ms:g} ms"
        yield f"at most {percent(params.slo.max_error_rate)} errors"
        yield f"at least {percent(params.min_throughput_ratio)} of the rate"
    if grader.kind == "capacity" and condition == "slo_at_peak":
        yield f"p95 at or under {params.slo.p95_ms:g} ms"
        yield f"at most {percent(params.slo.max_error_rate)} errors"
        yield f"at least {percent(params.min_throughput_ratio)} of the target rate"
    if grader.kind == "served-auc":
        yield f"AUC of at least {params.floor:g}"
    if grader.kind == "correctness":
        yield f"at least {percent(params.pass_threshold)}"
    if grader.kind == "search-load" and condition == "slo":
        yield f"at least {percent(params.spot_pass_share)} of spot checks"
    if grader.kind == "relevance":
        yield f"within {params.baseline_margin:g}"
    if grader.kind == "freshness":
        yield f"within {params.bound_s:g} seconds"
        yield f"at least {percent(params.pass_share)} of each"
    if grader.kind == "incident" and spec.probe is not None:
        yield f"{spec.probe.slo.stability_s:g}-second"


@pytest.mark.parametrize("challenge_id", CHALLENGES)
def test_the_brief_lists_exactly_the_specs_requirements(challenge_id: str) -> None:
    challenge = find_challenge(challenge_id, [BUILTIN], plugins.catalog())
    names = [r.name for r in challenge.spec.requirements]
    assert names, f"{challenge_id} declares no requirements"
    assert listed_requirements(graded_section(challenge)) == names


@pytest.mark.parametrize("challenge_id", CHALLENGES)
def test_the_brief_states_each_requirements_thresholds_and_the_pass_line(
    challenge_id: str,
) -> None:
    challenge = find_challenge(challenge_id, [BUILTIN], plugins.catalog())
    section = " ".join(graded_section(challenge).split())
    graders = {g.name: g for g in challenge.spec.graders}
    for req in challenge.spec.requirements:
        entry = section.split(f"**{req.name}**", 1)[1].split("- **", 1)[0]
        for number in thresholds(challenge.spec, graders[req.grader], req.condition):
            assert number in entry, f"{req.name}: the brief does not say {number!r}"
    assert f"pass line of {challenge.spec.pass_score:g}" in section
