"""The served-auc grader: an exact ROC AUC, its curve around the floor, malformed answers and
the probe it sends through the balancer."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from prodproven.graders.base import GraderError
from prodproven.graders.deployment import DeploymentInvalid
from prodproven.graders.served_auc import (
    ServedAucGrader,
    ServedAucParams,
    auc_score,
    roc_auc,
    score_served,
)
from tests.unit.evaluationsupport import FakeEnv

PARAMS = ServedAucParams(requests="r.json", labels="l.json", floor=0.85)


def report(answers: list[Any]) -> dict[str, Any]:
    return {"answers": answers, "problems": [], "requests": len(answers)}


# the AUC ---------------------------------------------------------------------------------


def test_a_perfect_ranking_has_auc_1_and_a_reversed_one_0() -> None:
    assert roc_auc([0.1, 0.2, 0.8, 0.9], [0, 0, 1, 1]) == 1.0
    assert roc_auc([0.9, 0.8, 0.2, 0.1], [0, 0, 1, 1]) == 0.0


def test_the_auc_counts_the_pairs_ranked_right() -> None:
    # pairs (positive, negative): (0.35, 0.1) right, (0.35, 0.4) wrong, (0.8, *) right: 3 of 4
    assert roc_auc([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1]) == 0.75


def test_ties_between_a_positive_and_a_negative_count_half() -> None:
    assert roc_auc([0.5, 0.5, 0.5, 0.5], [0, 1, 0, 1]) == 0.5
    assert roc_auc([0.2, 0.6, 0.6, 0.9], [0, 0, 1, 1]) == 0.875


def test_one_class_alone_has_no_auc() -> None:
    with pytest.raises(ValueError, match="both classes"):
        roc_auc([0.1, 0.2], [1, 1])


# the curve -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("auc", "expected"),
    [
        (0.95, 1.0),
        (0.88, 1.0),  # floor + 0.03
        (0.865, 0.9),
        (0.85, 0.8),  # meeting the floor
        (0.8499, 0.4),  # just under it: a cliff
        (0.80, 0.2),
        (0.75, 0.0),  # floor - 0.10
        (0.5, 0.0),
    ],
)
def test_the_curve_needs_the_floor_and_rewards_a_better_model_a_little(
    auc: float, expected: float
) -> None:
    assert auc_score(auc, PARAMS) == pytest.approx(expected, abs=0.001)


# answers ---------------------------------------------------------------------------------


def test_a_model_over_the_floor_passes() -> None:
    result = score_served(report([0.1, 0.2, 0.8, 0.9]), [0, 0, 1, 1], PARAMS)
    assert result.passed and result.score == 1.0
    assert result.evidence["auc"] == 1.0 and result.evidence["errors"] == 0


def test_unanswered_and_malformed_answers_are_errors_ranked_wrong() -> None:
    answers = [0.1, "0.2", None, True, 1.5, 0.9]  # one valid answer per class
    result = score_served(report(answers), [0, 0, 0, 1, 1, 1], PARAMS)
    assert result.evidence["errors"] == 4 and result.evidence["answered"] == 2
    assert result.evidence["answered_auc"] == 1.0
    # of the 9 (positive, negative) pairs only the two valid answers' pair is ranked right
    assert result.evidence["auc"] == pytest.approx(1 / 9, abs=1e-4)
    assert not result.passed and "4 without a valid probability" in result.summary
    assert [m["index"] for m in result.evidence["malformed"]] == [1, 3, 4]


def test_failing_on_the_hard_instances_never_raises_the_auc() -> None:
    labels = [0, 0, 1, 1]
    honest = score_served(report([0.1, 0.7, 0.6, 0.9]), labels, PARAMS).evidence["auc"]
    dodging = score_served(report([0.1, None, None, 0.9]), labels, PARAMS).evidence["auc"]
    assert (honest, dodging) == (0.75, 0.25)  # a failed answer loses all its pairs


# grade(), with a fake environment ------------------------------------------------------------


def env_for(tmp_path: Path, labels: list[int], **changes: Any) -> FakeEnv:
    bodies = [{"instances": [[0.1], [0.2]]}, {"instances": [[0.8], [0.9]]}]

    def service(files: Mapping[str, bytes], cmd: Sequence[str]) -> dict[str, bytes]:
        instances = json.loads(files["in/inputs.json"])
        answers = [row[0] for row in instances]  # the feature is the probability
        return {"answers.json": json.dumps(report(answers)).encode()}

    hidden = {"r.json": json.dumps(bodies).encode(), "l.json": json.dumps(labels).encode()}
    return FakeEnv(tmp_path, hidden=hidden, probe=service, **changes)


def test_grading_sends_every_instance_and_reads_the_probabilities(tmp_path: Path) -> None:
    env = env_for(tmp_path, [0, 0, 1, 1])
    result = ServedAucGrader().grade(env, PARAMS)  # type: ignore[arg-type]
    assert result.passed and result.evidence["instances"] == 4
    files, cmd = env.probes[0]
    assert json.loads(files["in/inputs.json"]) == [[0.1], [0.2], [0.8], [0.9]]
    assert cmd[-1] == "probabilities" and cmd[3:5] == ["/predict", "0"]


def test_labels_that_do_not_match_the_instances_are_a_grader_error(tmp_path: Path) -> None:
    with pytest.raises(GraderError, match="one 0/1 label per instance"):
        ServedAucGrader().grade(env_for(tmp_path, [0, 1, 1]), PARAMS)  # type: ignore[arg-type]


def test_an_invalid_deployment_fails_the_grader_with_its_message(tmp_path: Path) -> None:
    env = env_for(tmp_path, [0, 0, 1, 1], declared=DeploymentInvalid("deploy.yaml: cpus: 3"))
    with pytest.raises(DeploymentInvalid, match="cpus: 3"):
        ServedAucGrader().grade(env, PARAMS)  # type: ignore[arg-type]
