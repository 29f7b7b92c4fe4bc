"""Generate deploy-model's data and model, deterministically from a seed (the run's variant).

Runs inside the challenge image (no network) as `python generate.py OUT [--seed N]`; writes
OUT/workspace/model/model.joblib (the model the candidate serves) and OUT/hidden/ (inputs and
reference outputs for the graders). Nothing here is ever shown to the candidate. The seed draws
the training data (so the model), the correctness inputs and the load payloads; their sizes and
distributions, and so the challenge's difficulty, are the same for every seed.
"""

import argparse
import json
from pathlib import Path

import joblib
import numpy as np
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import RandomForestClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

DEFAULT_SEED = 20261121
NUMERIC = 8
PLANS, REGIONS = 3, 5


def sample(n: int, rng: np.random.Generator) -> np.ndarray:
    tenure = rng.gamma(2.0, 12.0, n)
    spend = rng.lognormal(3.5, 0.6, n)
    tickets = rng.poisson(1.5, n).astype(float)
    sessions = rng.gamma(3.0, 2.0, n)
    minutes = rng.normal(25, 8, n).clip(1)
    discount = rng.beta(2, 8, n)
    idle_days = rng.exponential(6.0, n)
    devices = rng.integers(1, 6, n).astype(float)
    plan = rng.integers(0, PLANS, n).astype(float)
    region = rng.integers(0, REGIONS, n).astype(float)
    return np.column_stack(
        [tenure, spend, tickets, sessions, minutes, discount, idle_days, devices, plan, region]
    ).round(3)


def label(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    logit = (
        -0.04 * x[:, 0] + 0.01 * x[:, 1] + 0.45 * x[:, 2] - 0.12 * x[:, 3]
        - 0.02 * x[:, 4] + 1.5 * x[:, 5] + 0.09 * x[:, 6] - 0.2 * x[:, 7]
        + np.array([0.6, 0.0, -0.7])[x[:, 8].astype(int)]
        + np.array([0.0, 0.3, -0.2, 0.1, 0.4])[x[:, 9].astype(int)]
        - 0.3 + rng.normal(0, 0.8, len(x))
    )
    return (logit > 0).astype(int)


def main(out: Path, seed: int) -> None:
    rng = np.random.default_rng(seed)
    x_train = sample(40000, rng)
    y_train = label(x_train, rng)
    model = Pipeline([
        ("features", ColumnTransformer([
            ("numeric", StandardScaler(), list(range(NUMERIC))),
            ("categorical", OneHotEncoder(handle_unknown="ignore"), [8, 9]),
        ])),
        ("classifier", RandomForestClassifier(
            n_estimators=100, random_state=0, n_jobs=1
        )),
    ])
    model.fit(x_train, y_train)
    (out / "workspace" / "model").mkdir(parents=True, exist_ok=True)
    joblib.dump(model, out / "workspace" / "model" / "model.joblib")

    hidden = out / "hidden"
    (hidden / "correctness").mkdir(parents=True, exist_ok=True)
    (hidden / "load").mkdir(parents=True, exist_ok=True)
    probe_rng = np.random.default_rng(seed + 1)
    inputs = sample(400, probe_rng)
    edge = np.array([
        [0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
        [120, 5000, 30, 60, 240, 1, 365, 10, 2, 4],
        [1, 10, 0, 1, 1, 0.5, 1, 1, 1, 2],
        [36, 40, 9, 0, 5, 0.95, 200, 1, 0, 1],
    ], dtype=float)
    inputs = np.vstack([inputs, edge])
    write(hidden / "correctness" / "inputs.json", inputs.tolist())
    write(hidden / "correctness" / "expected.json", model.predict(inputs).astype(int).tolist())
    load_rng = np.random.default_rng(seed + 2)
    write(hidden / "load" / "single.json",
          [{"instances": [row]} for row in sample(500, load_rng).tolist()])
    write(hidden / "load" / "batch256.json",
          [{"instances": sample(256, load_rng).tolist()} for _ in range(8)])
    print(
        f"seed {seed}: train accuracy {model.score(x_train, y_train):.3f}, "
        f"churn rate {y_train.mean():.3f}"
    )


def write(path: Path, value: object) -> None:
    path.write_text(json.dumps(value))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    args = parser.parse_args()
    main(args.out, args.seed)
