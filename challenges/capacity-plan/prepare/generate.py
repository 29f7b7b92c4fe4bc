"""Generate capacity-plan's models, traffic history, prices and hidden material from a seed.

Runs inside the challenge image (no network) as `python generate.py OUT [--seed N]`. Writes to
OUT/workspace/ the three fitted models with their model cards (models/), the traffic history
(traffic/history.csv), the prices (pricing.yaml) and example requests for the candidate's own
load tests (loadtest/sample_requests.json); to OUT/hidden/ the launch's truth
(launch.json), the same prices (pricing.json), the load payloads (load/requests.json) and the
labelled accuracy requests (accuracy/). The seed (the run's variant) draws the data, the
launch peak (40 to 50 req/s) and the prices (within 20% of the base); the models' sizes, the
traffic's shape and so the difficulty are the same for every seed.
"""

import argparse
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import joblib
import numpy as np
from sklearn.ensemble import (
    HistGradientBoostingClassifier,
    RandomForestClassifier,
    VotingClassifier,
)
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

DEFAULT_SEED = 20261126
FEATURES = [
    ("tenure_months", "months since sign-up", "0 or more"),
    ("monthly_spend", "spend over the last month, in the pricing's currency", "above 0"),
    ("support_tickets", "support tickets opened in the last 90 days", "whole number, 0 or more"),
    ("sessions_per_week", "average sessions per week", "0 or more"),
    ("session_minutes", "average session length in minutes", "1 or more"),
    ("discount", "share of the list price discounted", "0 to 1"),
    ("idle_days", "days since the last login", "0 or more"),
    ("devices", "devices logged in", "whole number, 1 to 5"),
    ("contract_months_left", "months until the contract renews", "whole number, 0 to 24"),
    ("payment_failures", "failed payments in the last 90 days", "whole number, 0 or more"),
    ("plan_tier", "0 basic, 1 plus, 2 premium", "whole number, 0 to 2"),
    ("nps", "last net-promoter answer", "whole number, 0 to 10"),
]
TRAIN_ROWS, VALIDATION_ROWS = 40000, 8000
LABEL_NOISE = 0.9
LOAD_ROWS, ACCURACY_BATCHES, ACCURACY_BATCH = 500, 80, 50
HISTORY_DAYS = 28
HISTORY_START = datetime(2026, 10, 26, tzinfo=UTC)  # a Monday; launch is the week after
LAUNCH_FACTOR = 2.5
LAUNCH_RULE = (
    "launch peak (req/s) = 2.5 x the busiest minute of the last 7 days of history.csv "
    "(requests per minute), divided by 60"
)
PEAK_RPS = (40, 50)  # drawn as a whole number, so the busiest minute is exactly 24 x peak
BASE_PRICES = {"vcpu_hour": 0.04, "gib_hour": 0.005}
PRICE_SPREAD = 0.2


def sample(n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` customers' features, in FEATURES order."""
    columns = [
        rng.gamma(2.0, 12.0, n),
        rng.lognormal(3.5, 0.6, n),
        rng.poisson(1.5, n),
        rng.gamma(3.0, 2.0, n),
        rng.normal(25, 8, n).clip(1),
        rng.beta(2, 8, n),
        rng.exponential(6.0, n),
        rng.integers(1, 6, n),
        rng.integers(0, 25, n),
        rng.poisson(0.4, n),
        rng.integers(0, 3, n),
        rng.integers(0, 11, n),
    ]
    return np.column_stack(columns).astype(float).round(3)


def churn_logit(x: np.ndarray) -> np.ndarray:
    """The true log-odds: thresholds and interactions a linear model only partly captures."""
    tenure, spend, tickets, sessions, minutes, discount, idle, devices, left, fails, tier, nps = x.T
    return (
        2.2 * ((idle > 10) & (sessions < 5))
        + 1.5 * np.tanh(tickets - 2.5)
        + 1.4 * np.exp(-tenure / 6.0)
        + 1.0 * np.cos(tenure / 8.0)
        + 1.2 * ((spend - 40) / 25) ** 2 * (tier == 0)
        - 0.6 * (tier == 2)
        + 1.8 * ((left < 2) & (discount > 0.2))
        + 1.6 * ((discount > 0.25) ^ (tier == 2))
        + 0.9 * fails * (tier > 0)
        - 0.35 * (nps - 5) * (nps > 6)
        + 0.3 * (5 - nps) * (nps < 4)
        + 0.8 * np.sin(minutes / 6.0)
        - 0.25 * devices
        - 2.1
    )


def labels(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    return (churn_logit(x) + rng.logistic(0.0, LABEL_NOISE, len(x)) > 0).astype(int)


def models() -> dict[str, tuple[Any, str]]:
    """The three candidates to serve, each with the sentence its model card describes it by."""
    forest = RandomForestClassifier(
        n_estimators=600, min_samples_leaf=3, max_features=0.5, random_state=0, n_jobs=2
    )
    boosting = HistGradientBoostingClassifier(
        max_iter=200, learning_rate=0.05, max_leaf_nodes=31, early_stopping=False, random_state=0
    )
    return {
        "large": (
            VotingClassifier([("boosting", boosting), ("forest", forest)], voting="soft"),
            "A soft-voting ensemble of gradient boosting (200 rounds) and a random forest of "
            "600 deep trees (3 or more customers per leaf): the data science team's most "
            "accurate model.",
        ),
        "medium": (
            RandomForestClassifier(
                n_estimators=125, max_depth=8, min_samples_leaf=5, random_state=0, n_jobs=2
            ),
            "A random forest of 125 trees of depth 8.",
        ),
        "linear": (
            make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)),
            "Standardised features and a logistic regression.",
        ),
    }


def single_threaded(model: Any) -> None:
    """Predict on one thread: a replica's CPU limit, not the fitting machine, decides."""
    for step in getattr(model, "estimators_", []):
        single_threaded(step)
    if isinstance(model, RandomForestClassifier):
        model.n_jobs = 1


def model_card(name: str, about: str, auc: float, size_mb: float, x_val: np.ndarray) -> str:
    rows = "\n".join(
        f"| {i} | `{key}` | {meaning} | {valid} |"
        for i, (key, meaning, valid) in enumerate(FEATURES)
    )
    return f"""# Model card: `{name}`

{about}

- File: `models/{name}.joblib` (scikit-learn 1.9.1, `joblib.load`), {size_mb:.1f} MB on disk.
- Task: will the customer churn within 30 days (1) or not (0). `predict` gives the class,
  `predict_proba(X)[:, 1]` the churn probability.
- Trained on {TRAIN_ROWS} customers; validated on {len(x_val)} held-out customers from the same
  period.
- **Validation AUC: {auc:.3f}**

## Input: 12 numbers per instance, in this order

| index | feature | meaning | valid values |
|---|---|---|---|
{rows}
"""


def history(peak_rps: int, rng: np.random.Generator) -> tuple[list[str], np.ndarray]:
    """Requests per minute over HISTORY_DAYS: daily and weekly seasonality, growth and noise,
    scaled so the busiest minute of the last 7 days is exactly 24 x ``peak_rps``."""
    minutes = np.arange(HISTORY_DAYS * 24 * 60)
    hour = (minutes % (24 * 60)) / 60.0
    weekday = (minutes // (24 * 60)) % 7
    daily = (
        0.55
        + 0.45 * np.exp(-(((hour - 19.5) / 3.5) ** 2))
        + 0.2 * np.exp(-(((hour - 12.5) / 2.0) ** 2))
    )
    daily -= 0.35 * np.exp(-(((hour - 4.0) / 2.5) ** 2))
    weekly = np.array([1.0, 1.02, 1.0, 0.98, 1.05, 0.82, 0.76])[weekday]
    growth = 1.0 + rng.uniform(0.25, 0.4) * minutes / minutes[-1]
    shape = daily * weekly * growth * rng.lognormal(0.0, 0.07, len(minutes))
    busiest = int(round(peak_rps * 60 / LAUNCH_FACTOR))
    last_week = minutes >= (HISTORY_DAYS - 7) * 24 * 60
    counts = np.floor(shape / shape[last_week].max() * busiest).astype(int)
    counts[np.flatnonzero(last_week)[np.argmax(shape[last_week])]] = busiest
    stamps = [
        (HISTORY_START + timedelta(minutes=int(m))).strftime("%Y-%m-%dT%H:%MZ") for m in minutes
    ]
    return stamps, counts


def main(out: Path, seed: int) -> None:
    rng = np.random.default_rng(seed)
    x = sample(TRAIN_ROWS + VALIDATION_ROWS, rng)
    y = labels(x, rng)
    x_train, y_train = x[:TRAIN_ROWS], y[:TRAIN_ROWS]
    x_val, y_val = x[TRAIN_ROWS:], y[TRAIN_ROWS:]
    workspace, hidden = out / "workspace", out / "hidden"
    for folder in (
        workspace / "models",
        workspace / "traffic",
        workspace / "loadtest",
        hidden / "load",
        hidden / "accuracy",
    ):
        folder.mkdir(parents=True, exist_ok=True)

    for name, (model, about) in models().items():
        model.fit(x_train, y_train)
        single_threaded(model)
        auc = float(roc_auc_score(y_val, model.predict_proba(x_val)[:, 1]))
        path = workspace / "models" / f"{name}.joblib"
        joblib.dump(model, path)
        size_mb = path.stat().st_size / 2**20
        (workspace / "models" / f"{name}.md").write_text(
            model_card(name, about, auc, size_mb, x_val)
        )
        print(f"seed {seed}: {name} validation AUC {auc:.4f}, {size_mb:.1f} MB")

    probe_rng = np.random.default_rng(seed + 1)
    x_acc = sample(ACCURACY_BATCHES * ACCURACY_BATCH, probe_rng)
    y_acc = labels(x_acc, probe_rng)
    batches = [
        {"instances": x_acc[i : i + ACCURACY_BATCH].tolist()}
        for i in range(0, len(x_acc), ACCURACY_BATCH)
    ]
    write(hidden / "accuracy" / "requests.json", batches)
    write(hidden / "accuracy" / "labels.json", y_acc.tolist())
    load_rng = np.random.default_rng(seed + 2)
    write(
        hidden / "load" / "requests.json",
        [{"instances": [row]} for row in sample(LOAD_ROWS, load_rng).tolist()],
    )

    example_rng = np.random.default_rng(seed + 4)
    write(
        workspace / "loadtest" / "sample_requests.json",
        [{"instances": [row]} for row in sample(200, example_rng).tolist()],
    )

    plan_rng = np.random.default_rng(seed + 3)
    peak_rps = int(plan_rng.integers(PEAK_RPS[0], PEAK_RPS[1] + 1))
    stamps, counts = history(peak_rps, plan_rng)
    lines = ["minute,requests"] + [f"{s},{c}" for s, c in zip(stamps, counts, strict=True)]
    (workspace / "traffic" / "history.csv").write_text("\n".join(lines) + "\n")
    prices = {
        key: round(base * plan_rng.uniform(1 - PRICE_SPREAD, 1 + PRICE_SPREAD), 4)
        for key, base in BASE_PRICES.items()
    }
    (workspace / "pricing.yaml").write_text(
        "# Reserved capacity, billed per hour whether used or not.\n"
        f"currency: USD\nvcpu_hour: {prices['vcpu_hour']}\ngib_hour: {prices['gib_hour']}\n"
    )
    write(hidden / "pricing.json", {"currency": "USD", **prices})
    write(hidden / "launch.json", {"peak_rps": float(peak_rps), "rule": LAUNCH_RULE})
    print(
        f"seed {seed}: launch peak {peak_rps} req/s, prices {prices}, "
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
