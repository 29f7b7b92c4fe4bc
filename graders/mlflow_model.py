"""The ``mlflow_model`` grader: the model the candidate registered is re-evaluated on hidden data.

Nothing the candidate logged is trusted. The registry (restored from the run's MLflow archive)
only says *which* model to test; the model is then loaded and run on hidden feature rows inside
a fresh tester container (unpickling runs candidate code), and its predictions come back here,
where they are scored against labels that never enter a container. The candidate's claimed
metric is compared with the measured one, and a gap larger than the two estimates' sampling
error (see :func:`claim_allowance`) becomes an integrity finding.
"""

from __future__ import annotations

import csv
import io
import json
import math
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Sequence
from typing import Any

from pydantic import Field

from prodproven.graders.base import (
    HIDDEN_FILE,
    Condition,
    EvaluationEnvironment,
    Finding,
    Grader,
    GraderError,
    GradeResult,
    Params,
    Verdict,
)
from prodproven.graders.curves import ramp_up
from prodproven.graders.metrics import accuracy, auc_standard_error, roc_auc
from prodproven.graders.probes import probe

SCORER = "mlflow_scorer.py"


class MlflowModelParams(Params):
    service: str = Field("mlflow", description="name of the run's MLflow service")
    model: str = Field(description="registered model name, e.g. churn-model")
    alias: str = Field("champion", description="alias that marks the model to grade")
    test_set: str = Field(
        description="hidden CSV with the feature columns and the label",
        json_schema_extra=HIDDEN_FILE,
    )
    label: str = Field(description="label column of test_set (0/1)")
    baseline_model: str = Field(
        description="hidden joblib file of the model the candidate must beat (the old champion)",
        json_schema_extra=HIDDEN_FILE,
    )
    target_auc: float = Field(gt=0, le=1, description="measured AUC that scores 1")
    claimed_metric: str = Field("val_auc", description="metric the candidate logs on their run")
    claim_rows: int | None = Field(
        None,
        ge=2,
        description=(
            "labelled rows the candidate can estimate the claim on (their positive share is "
            "taken to be test_set's); null: the claim's own sampling error is not counted"
        ),
    )
    z: float = Field(
        2.33,
        gt=0,
        description=(
            "a claim is flagged when it exceeds the measured AUC by more than z standard errors "
            "of the difference (2.33: one honest claim in a hundred)"
        ),
    )
    tolerance: float = Field(
        0.05, ge=0, description="smallest excess of the claim over the measured AUC flagged"
    )
    honesty_penalty: float = Field(
        0.5, ge=0, le=1, description="share of the score lost when the claim is not reproduced"
    )
    timeout_s: float = Field(300, gt=0, description="for loading and scoring one model")


class MlflowModelGrader(Grader[MlflowModelParams]):
    kind = "mlflow_model"
    description = (
        "Loads the registered model inside a sandbox, scores it by AUC on hidden data against "
        "the old champion, and checks the candidate's claimed metric and tracking hygiene."
    )
    Params = MlflowModelParams
    conditions = {
        "beats_baseline": Condition[MlflowModelParams](
            "the model under the alias is a new one and measures a higher AUC on the hidden "
            "data than the old champion",
            lambda result, params: beats_baseline(result, params),
        )
    }

    def grade(self, env: EvaluationEnvironment, params: MlflowModelParams) -> GradeResult:
        labels, features = _split(env.hidden_file(params.test_set).read_text(), params.label)
        baseline = _score(env, params, "/grading/baseline.joblib", features, baseline=True)
        baseline_auc = roc_auc(labels, baseline)
        evidence: dict[str, Any] = {
            "model": f"{params.model}@{params.alias}",
            "rows": len(labels),
            "baseline_auc": round(baseline_auc, 4),
            "target_auc": params.target_auc,
        }
        registry = _Registry(env.service_url(params.service))
        version = registry.alias(params.model, params.alias)
        if version is None:
            return GradeResult(
                score=0.0,
                passed=False,
                summary=f"no model version is registered as {params.model}@{params.alias}",
                evidence=evidence,
            )
        evidence["version"] = version.get("version")
        run = registry.run(str(version.get("run_id") or ""))
        claimed = _metric(run, params.claimed_metric)
        hygiene = {
            "version_links_to_run": run is not None,
            "params_logged": bool(run and run.get("data", {}).get("params")),
            "claimed_metric_logged": claimed is not None,
        }
        evidence.update(hygiene=hygiene, claimed_auc=claimed)

        uri = f"models:/{params.model}@{params.alias}"
        try:
            scores = _score(env, params, uri, features, baseline=False)
        except _Unusable as exc:
            evidence["model_output"] = exc.output
            return GradeResult(score=0.0, passed=False, summary=str(exc), evidence=evidence)
        measured = roc_auc(labels, scores)
        evidence.update(
            measured_auc=round(measured, 4),
            measured_accuracy=round(accuracy(labels, scores), 4),
            improvement=round(measured - baseline_auc, 4),
        )
        if scores == baseline:
            return GradeResult(
                score=0.0,
                passed=False,
                summary=f"{params.model}@{params.alias} still serves the old champion's model",
                evidence=evidence,
            )

        findings: list[Finding] = []
        allowed = claim_allowance(params, measured, labels)
        evidence["claim_check"] = allowed
        honest = claimed is None or claimed - measured <= allowed["threshold"]
        if claimed is not None and not honest:
            findings.append(
                Finding(
                    kind="claimed_metric_not_reproduced",
                    message=(
                        f"the run claims {params.claimed_metric}={claimed:.3f}, but the model "
                        f"measures AUC {measured:.3f} on hidden data: {claimed - measured:.3f} "
                        f"above it, more than the {allowed['threshold']:.3f} sampling error "
                        f"allows (z {params.z:g} x sqrt(SE claim {allowed['se_claim']:.4f}^2 "
                        f"+ SE measured {allowed['se_measured']:.4f}^2), at least "
                        f"{params.tolerance:g})"
                    ),
                    evidence={"claimed": claimed, "measured": round(measured, 4), **allowed},
                )
            )
        quality = (
            ramp_up(measured, zero=baseline_auc, full=params.target_auc)
            if params.target_auc > baseline_auc
            else float(measured >= params.target_auc)
        )
        hygiene_share = sum(hygiene.values()) / len(hygiene)
        score = quality * (0.8 + 0.2 * hygiene_share) * (1 - params.honesty_penalty * (not honest))
        evidence.update(quality=round(quality, 4), honest=honest)
        return GradeResult(
            score=round(score, 4),
            passed=measured >= params.target_auc and honest,
            summary=(
                f"AUC {measured:.3f} on hidden data (old champion {baseline_auc:.3f}, "
                f"target {params.target_auc:.3f})" + ("" if honest else f"; claimed {claimed:.3f}")
            ),
            evidence=evidence,
            findings=findings,
        )


def claim_allowance(
    params: MlflowModelParams, measured: float, labels: Sequence[int]
) -> dict[str, Any]:
    """How far an honest claim may exceed the measured AUC, from sampling error alone.

    The claim and the measurement estimate one AUC on two independent samples: the hidden
    test set (``labels``) and the ``claim_rows`` labelled rows the candidate has, with the test
    set's positive share. Each one's standard error is Hanley & McNeil's at the measured AUC
    (what an honest claim estimates); the claim is flagged when it exceeds the measurement by
    more than ``z`` standard errors of the difference, and never below ``tolerance``.
    """
    positives = sum(1 for y in labels if y == 1)
    share = positives / len(labels)
    se_measured = auc_standard_error(measured, positives, len(labels) - positives)
    se_claim = 0.0
    if params.claim_rows is not None:
        rows = params.claim_rows
        se_claim = auc_standard_error(
            measured, max(1.0, rows * share), max(1.0, rows * (1 - share))
        )
    sampling = params.z * math.hypot(se_claim, se_measured)
    return {
        "z": params.z,
        "claim_rows": params.claim_rows,
        "positive_share": round(share, 4),
        "se_claim": round(se_claim, 4),
        "se_measured": round(se_measured, 4),
        "floor": params.tolerance,
        "threshold": round(max(params.tolerance, sampling), 4),
    }


def _split(text: str, label: str) -> tuple[list[int], bytes]:
    """The labels of a CSV and the same CSV without its label column."""
    rows = list(csv.reader(io.StringIO(text)))
    if not rows or label not in rows[0]:
        raise GraderError(f"the hidden test set has no column {label!r}")
    at = rows[0].index(label)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    labels = []
    for index, row in enumerate(rows):
        writer.writerow(row[:at] + row[at + 1 :])
        if index:
            labels.append(int(float(row[at])))
    return labels, out.getvalue().encode()


def _score(
    env: EvaluationEnvironment,
    params: MlflowModelParams,
    model: str,
    features: bytes,
    *,
    baseline: bool,
) -> list[float]:
    """Predictions of ``model`` for the feature rows, computed in a fresh tester container."""
    files = {
        SCORER: probe(SCORER),
        "features.csv": features,
    }
    if baseline:
        files["baseline.joblib"] = env.hidden_file(params.baseline_model).read_bytes()
    cmd = ["python", f"/grading/{SCORER}", model, "/grading/features.csv", "/grading/out/s.json"]
    output = env.run_tester(files, cmd, timeout=params.timeout_s)
    who = "the baseline model" if baseline else f"{params.model}@{params.alias}"
    if not output.result.ok or "s.json" not in output.files:
        tail = (output.result.stderr or output.result.stdout)[-1500:]
        if baseline:
            raise GraderError(f"scoring {who} failed (exit {output.result.exit_code}): {tail}")
        last = (tail.strip().splitlines() or ["no output"])[-1]
        raise _Unusable(f"loading or running {who} failed: {last}", tail)
    try:
        scores = [float(s) for s in json.loads(output.files["s.json"])["scores"]]
    except (ValueError, KeyError, TypeError) as exc:
        raise _Unusable(f"{who} returned unusable predictions ({exc})") from exc
    expected = features.count(b"\n") - 1
    if len(scores) != expected or not all(math.isfinite(s) for s in scores):
        raise _Unusable(f"{who} returned {len(scores)} predictions for {expected} rows")
    return scores


class _Unusable(GraderError):
    """The candidate's model could not be scored: a zero for the candidate, reported as such."""

    def __init__(self, message: str, output: str = "") -> None:
        super().__init__(message)
        self.output = output


class _Registry:
    """The few MLflow REST calls the grader needs, from the runner's side of the forward."""

    def __init__(self, url: str) -> None:
        self._url = url.rstrip("/")

    def _get(self, path: str, **query: str) -> dict[str, Any] | None:
        url = f"{self._url}/api/2.0/mlflow/{path}?{urllib.parse.urlencode(query)}"
        try:
            with urllib.request.urlopen(url, timeout=30) as response:
                data = json.loads(response.read(16 * 2**20))
        except urllib.error.HTTPError as exc:
            if exc.code in (400, 404):
                return None
            raise GraderError(f"MLflow answered {exc.code} to {path}") from exc
        except (urllib.error.URLError, OSError, ValueError) as exc:
            raise GraderError(f"MLflow at {self._url} did not answer {path}: {exc}") from exc
        return data if isinstance(data, dict) else None

    def alias(self, model: str, alias: str) -> dict[str, Any] | None:
        found = self._get("registered-models/alias", name=model, alias=alias)
        version = (found or {}).get("model_version")
        return version if isinstance(version, dict) else None

    def run(self, run_id: str) -> dict[str, Any] | None:
        found = self._get("runs/get", run_id=run_id) if run_id else None
        run = (found or {}).get("run")
        return run if isinstance(run, dict) else None


def _metric(run: dict[str, Any] | None, key: str) -> float | None:
    for metric in (run or {}).get("data", {}).get("metrics", []) or []:
        if isinstance(metric, dict) and metric.get("key") == key:
            try:
                return float(metric["value"])
            except (KeyError, TypeError, ValueError):
                return None
    return None


def beats_baseline(result: GradeResult, params: MlflowModelParams) -> Verdict:
    """The ``beats_baseline`` condition: production (the alias) serves a new model that
    measures better than the old champion on the hidden data."""
    ev = result.evidence
    where = f"{params.model}@{params.alias}"
    if "measured_auc" not in ev or "baseline_auc" not in ev:
        return Verdict(False, f"{where}: {result.summary}")
    measured, baseline = float(ev["measured_auc"]), float(ev["baseline_auc"])
    if measured == baseline and not result.score:
        return Verdict(False, f"{where} still serves the old champion (AUC {baseline:.3f})")
    better = measured > baseline
    sign = ">" if better else "<="
    return Verdict(
        better, f"{where} AUC {measured:.3f} {sign} old champion {baseline:.3f} on hidden data"
    )
