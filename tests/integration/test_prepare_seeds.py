"""Generated material against the real engine: a challenge's prepare script draws from the run's
variant, so one candidate's material does not solve the next candidate's run."""

from __future__ import annotations

from prodproven.runner import plugins
from prodproven.runner.lifecycle.core import Runner
from prodproven.runner.spec.challenge import find_challenge
from tests.conftest import BUILTIN

HIDDEN = ("correctness/inputs.json", "correctness/expected.json", "load/single.json")


def test_deploy_models_prepare_script_draws_its_material_from_the_variant(runner: Runner) -> None:
    challenge = find_challenge("deploy-model", [BUILTIN], plugins.catalog())

    def hidden(variant: int) -> dict[str, bytes]:
        material = runner.material(challenge, variant)
        return {rel: path.read_bytes() for rel in HIDDEN if (path := material.hidden_file(rel))}

    one, two, again = hidden(1), hidden(2), hidden(1)
    assert set(one) == set(HIDDEN)
    assert all(one[rel] != two[rel] for rel in HIDDEN)
    assert one == again
