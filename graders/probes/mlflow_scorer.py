"""Scores a model on feature rows, inside a tester container (candidate code may run here).

    python mlflow_scorer.py MODEL FEATURES_CSV OUT_JSON

MODEL is an MLflow URI (models:/name@alias) or a path to a joblib file. Writes
{"flavor": ..., "scores": [...]} with one churn probability per row; the grader, outside this
container, compares them with labels this container never sees.
"""

import json
import sys

import numpy as np
import pandas as pd

# Candidates' own modules, as in their notebook; appended, so they cannot shadow libraries.
sys.path.append("/workspace")


def probabilities(model, frame):
    if hasattr(model, "predict_proba"):
        return np.asarray(model.predict_proba(frame))[:, 1]
    out = np.asarray(model.predict(frame), dtype=float)
    return out[:, -1] if out.ndim == 2 else out


def main() -> None:
    uri, features, out = sys.argv[1:4]
    frame = pd.read_csv(features)
    if uri.startswith("models:/"):
        import mlflow

        flavors = mlflow.models.get_model_info(uri).flavors
        if "sklearn" in flavors:
            flavor, model = "sklearn", mlflow.sklearn.load_model(uri)
        else:
            flavor, model = "pyfunc", mlflow.pyfunc.load_model(uri)
    else:
        import joblib

        flavor, model = "joblib", joblib.load(uri)
    scores = probabilities(model, frame).ravel()
    with open(out, "w") as fh:
        json.dump({"flavor": flavor, "rows": len(frame), "scores": [float(s) for s in scores]}, fh)


if __name__ == "__main__":
    main()
