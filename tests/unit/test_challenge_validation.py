"""The gate's section of a challenge spec (runner/spec/validation.py): the noise check, the
slow responder and what a calibration submission may extend."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from prodproven.runner.spec.challenge import Catalog, load_challenge
from prodproven.runner.spec.validation import SlowCheck
from tests.conftest import MakeChallenge, MakeLab
from tests.unit.specsupport import problems_of


def test_the_noise_check_needs_at_least_two_gradings(
    make_challenge: MakeChallenge, catalog: Catalog
) -> None:
    root = make_challenge(lambda s: s["validation"].update(noise={"repeats": 1}))
    assert "validation.noise.repeats" in problems_of(root, catalog)


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


def extending(make_challenge: MakeChallenge, extends: str) -> Path:
    """deploy-model with one calibration submission, ``persona``, that extends ``extends``."""
    rung = {"name": "persona", "passed": True, "band": {"min": 0}, "why": "the reference, tuned"}
    root = make_challenge(
        lambda s: s.update(calibration={"submissions": [{**rung, "extends": extends}]})
    )
    (root / "calibration" / "persona").mkdir(parents=True)
    return root


def test_a_calibration_submission_may_extend_the_reference(
    make_challenge: MakeChallenge, catalog: Catalog
) -> None:
    ladder = load_challenge(extending(make_challenge, "reference"), catalog).spec.calibration
    assert ladder is not None and ladder.submissions[0].extends == "reference"


def test_a_calibration_submission_extends_nothing_else(
    make_challenge: MakeChallenge, catalog: Catalog
) -> None:
    problems = problems_of(extending(make_challenge, "starter"), catalog)
    assert "calibration.submissions.0.extends: Input should be 'reference'" in problems


def test_a_submission_extending_the_reference_needs_the_solution_folder(
    make_challenge: MakeChallenge, catalog: Catalog
) -> None:
    root = extending(make_challenge, "reference")
    shutil.rmtree(root / "solution")
    problems = problems_of(root, catalog)
    assert "calibration.submissions.0.extends: reference, but the folder" in problems
