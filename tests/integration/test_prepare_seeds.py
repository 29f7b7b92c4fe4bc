"""Generated material against the real engine: a challenge's prepare script draws from the run's
variant, so one candidate's material does not solve the next candidate's run; two processes
preparing the same material at once both get it."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from prodproven.runner import plugins
from prodproven.runner.config import Settings
from prodproven.runner.lifecycle.core import Runner
from prodproven.runner.spec.challenge import find_challenge
from prodproven.sandbox.images import ImageBuilder
from tests.conftest import BUILTIN
from tests.integration.conftest import runner_for

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


def test_two_runners_preparing_the_same_material_at_once_both_get_it(
    images: ImageBuilder, runtime_image: str, tmp_path: Path
) -> None:
    """E.g. two runs starting on a fresh version, or parallel test workers: each generation has
    a pod of its own, so neither removes the other's."""
    challenge = find_challenge("deploy-model", [BUILTIN], plugins.catalog())
    runners = [
        runner_for(Settings.from_env(data_dir=tmp_path / name), images, runtime_image)
        for name in ("one", "two")
    ]
    with ThreadPoolExecutor(len(runners)) as pool:
        made = list(pool.map(lambda runner: runner.material(challenge, 7), runners))
    assert all(material.hidden_file(HIDDEN[0]) for material in made)
