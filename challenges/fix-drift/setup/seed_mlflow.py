"""Seed the run's MLflow with the churn model currently in production, before the clock starts.

Run as `python /setup/seed_mlflow.py` with MLFLOW_TRACKING_URI set; champion.joblib,
champion.json and input_example.csv (written by prepare/generate.py) sit next to this script.
Creates the experiment `churn`, a run `champion-2026-q3` with the champion's params and val_auc,
the registered model `churn-model` (version 1) and its alias `champion`. A second run against
an already seeded server changes nothing; an unreachable server fails within a minute.
"""

from __future__ import annotations

import json
import os
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import NoReturn

HERE = Path(__file__).resolve().parent
EXPERIMENT = "churn"
RUN_NAME = "champion-2026-q3"
MODEL = "churn-model"
ALIAS = "champion"
WAIT_S = 60


def fail(message: str) -> NoReturn:
    print(f"seed_mlflow: {message}", file=sys.stderr)
    sys.exit(1)


def wait_for(uri: str) -> None:
    """Return once the tracking server answers its health check, or exit with a clear error
    (the MLflow client would otherwise retry for minutes before giving up)."""
    deadline = time.monotonic() + WAIT_S
    error: object = None
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{uri.rstrip('/')}/health", timeout=5) as response:
                if response.status == 200:
                    return
                error = f"HTTP {response.status}"
        except (urllib.error.URLError, OSError) as exc:
            error = exc
        time.sleep(1)
    fail(f"the MLflow server at {uri} did not answer /health within {WAIT_S} s ({error})")


def main() -> None:
    uri = os.environ.get("MLFLOW_TRACKING_URI", "")
    if not uri.startswith(("http://", "https://")):
        fail(f"MLFLOW_TRACKING_URI must be the tracking server's http URL, not {uri!r}")
    for name in ("champion.joblib", "champion.json", "input_example.csv"):
        if not (HERE / name).is_file():
            fail(f"{HERE / name} is missing: run prepare/generate.py first")
    wait_for(uri)
    os.environ.setdefault("GIT_PYTHON_REFRESH", "quiet")  # no git here; MLflow asks anyway

    # Every module the seeding needs, named here so a warm pod imports it ahead of the start
    # (docs/challenge-format.md, setup): the sklearn ones are what champion.joblib unpickles.
    import joblib
    import mlflow
    import mlflow.sklearn
    import pandas as pd
    import sklearn.compose
    import sklearn.ensemble
    import sklearn.pipeline
    import sklearn.preprocessing  # noqa: F401
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    client = MlflowClient()
    try:
        seeded = client.get_model_version_by_alias(MODEL, ALIAS)
    except MlflowException:
        seeded = None
    if seeded is not None:
        print(f"{MODEL}@{ALIAS} already points to version {seeded.version}; nothing to do")
        return

    model = joblib.load(HERE / "champion.joblib")
    card = json.loads((HERE / "champion.json").read_text())
    example = pd.read_csv(HERE / "input_example.csv")
    mlflow.set_experiment(EXPERIMENT)
    with mlflow.start_run(run_name=RUN_NAME):
        mlflow.log_params(card["params"])
        mlflow.log_metric("val_auc", card["val_auc"])
        mlflow.set_tag("stage", "production")
        info = mlflow.sklearn.log_model(
            model,
            name="model",
            input_example=example,
            registered_model_name=MODEL,
            # Plain pickle, so the seeded model loads whatever skops' trust list says.
            serialization_format=mlflow.sklearn.SERIALIZATION_FORMAT_CLOUDPICKLE,
            # Stated, not inferred: inferring reloads the model in a subprocess (seconds of
            # the candidate's wait at start).
            pip_requirements=mlflow.sklearn.get_default_pip_requirements(include_cloudpickle=True),
        )
    version = str(info.registered_model_version)
    client.set_registered_model_alias(MODEL, ALIAS, version)
    print(f"seeded {MODEL} version {version} as @{ALIAS} (val_auc {card['val_auc']})")


if __name__ == "__main__":
    main()
