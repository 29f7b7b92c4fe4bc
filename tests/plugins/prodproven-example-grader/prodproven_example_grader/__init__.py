"""``label_accuracy``: an example grader shipped as its own package.

The candidate leaves a predictions CSV (columns ``id`` and ``label``) in the workspace; the
challenge's hidden material holds the right label for each id. The score is the fraction of
hidden ids predicted right. The submission is read as data and never run, so the grader
needs no container.

A firm's grader package looks like this one: a ``Grader`` subclass with its ``Params``, and an
entry point in the ``prodproven.graders`` group of pyproject.toml named after its ``kind``.
"""

from __future__ import annotations

import csv
import io
import json

from pydantic import Field

from prodproven.graders.base import (
    HIDDEN_FILE,
    EvaluationEnvironment,
    Grader,
    GraderError,
    GradeResult,
    Params,
)

SHOWN_MISMATCHES = 20


class LabelAccuracyParams(Params):
    predictions: str = Field(
        "predictions.csv", description="CSV in the workspace with `id` and `label` columns"
    )
    labels: str = Field(
        "labels.csv",
        description="CSV in the hidden material with the right label of each id",
        json_schema_extra=HIDDEN_FILE,
    )
    pass_accuracy: float = Field(0.9, ge=0, le=1, description="accuracy that counts as passed")


class LabelsInvalid(ValueError):
    """A labels CSV cannot be read as ``id,label`` rows."""


def read_labels(data: bytes) -> dict[str, str]:
    """The ``label`` of each ``id`` in a CSV with a header row. Raises LabelsInvalid."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise LabelsInvalid(f"not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    rows = csv.DictReader(io.StringIO(text))
    if rows.fieldnames is None or not {"id", "label"} <= set(rows.fieldnames):
        raise LabelsInvalid(f"the header must name `id` and `label` (got {rows.fieldnames})")
    labels: dict[str, str] = {}
    for row in rows:
        key = row["id"]
        if key in labels:
            raise LabelsInvalid(f"id {key!r} appears twice (line {rows.line_num})")
        labels[key] = row["label"]
    return labels


class LabelAccuracyGrader(Grader[LabelAccuracyParams]):
    kind = "label_accuracy"
    description = "Scores a predictions CSV from the workspace by its accuracy on hidden labels."
    Params = LabelAccuracyParams

    def grade(self, env: EvaluationEnvironment, params: LabelAccuracyParams) -> GradeResult:
        try:
            truth = read_labels(env.hidden_file(params.labels).read_bytes())
        except LabelsInvalid as exc:
            # The challenge's own material is wrong: a failed measurement, not a zero score.
            raise GraderError(f"hidden {params.labels}: {exc}") from None
        if not truth:
            raise GraderError(f"hidden {params.labels} has no rows")
        submitted = env.workspace_file(params.predictions, max_bytes=16 * 2**20)
        if submitted is None:
            return _zero(f"{params.predictions} is missing from the workspace")
        try:
            predicted = read_labels(submitted)
        except LabelsInvalid as exc:
            return _zero(f"{params.predictions} cannot be read: {exc}")
        mismatches = [
            {"id": key, "expected": label, "got": predicted.get(key)}
            for key, label in truth.items()
            if predicted.get(key) != label
        ]
        accuracy = 1 - len(mismatches) / len(truth)
        env.log(f"{len(truth) - len(mismatches)} of {len(truth)} labels right")
        artifact = env.save_artifact("mismatches.json", json.dumps(mismatches).encode())
        return GradeResult(
            score=accuracy,
            passed=accuracy >= params.pass_accuracy,
            summary=f"accuracy {accuracy:.1%} on {len(truth)} hidden labels "
            f"(passes at {params.pass_accuracy:.0%})",
            evidence={
                "labels": len(truth),
                "right": len(truth) - len(mismatches),
                "missing": sum(1 for m in mismatches if m["got"] is None),
                "mismatches": mismatches[:SHOWN_MISMATCHES],
                "mismatches_file": artifact,
            },
        )


def _zero(reason: str) -> GradeResult:
    return GradeResult(score=0.0, passed=False, summary=reason, evidence={"problem": reason})
