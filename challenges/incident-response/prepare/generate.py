"""Generate incident-response's service tree, canaries and fault material from a seed.

Runs inside the challenge image (no network) as `python generate.py OUT [--seed N]` and writes:

    OUT/workspace/service/config.yaml               the good config (commented)
    OUT/workspace/service/models/churn/v1/          the good model, its card and the
                                                    explainer's background sample
    OUT/workspace/service/logs/.keep
    OUT/hidden/probe/canaries.jsonl                 the SLO prober's requests and answers
    OUT/hidden/correctness/inputs.json, expected.json
    OUT/hidden/faults/<fault>/service/...           each fault's files, copied over /workspace

The world: eight numeric customer features and a logit-linear churn probability; the served
model is a gradient-boosted classifier fitted on a plain array in the config's feature order.
Canary rows are ones the good model is confident about (2 of each class per request), so a
model that answers one class for everyone fails every canary, and the good one passes all.
Every fault's config is the good config with one value changed, comments included, so a diff
shows exactly what the deploy did. The seed picks the data, the model and which feature the
schema-change fault renames.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import joblib
import numpy as np
import sklearn
from sklearn.dummy import DummyClassifier
from sklearn.ensemble import GradientBoostingClassifier
from sklearn.metrics import accuracy_score, roc_auc_score

DEFAULT_SEED = 20261122
TRAIN_ROWS, VAL_ROWS = 8000, 2000
BACKGROUND_ROWS = 4096
CANARY_LINES = 16
CORRECTNESS_ROWS = 200
CONFIDENT = 0.2  # canary rows have P(churn) below this or above 1 - this

FEATURES = [
    "tenure_months",
    "monthly_charges",
    "support_tickets",
    "sessions_per_week",
    "avg_session_minutes",
    "days_since_last_login",
    "discount_pct",
    "num_devices",
]
INTEGER = {"tenure_months", "support_tickets", "days_since_last_login", "num_devices"}
MEANING = {
    "tenure_months": "months as a customer",
    "monthly_charges": "current monthly bill, USD",
    "support_tickets": "support tickets in the last 90 days",
    "sessions_per_week": "app sessions per week",
    "avg_session_minutes": "average session length, minutes",
    "days_since_last_login": "days since the last login",
    "discount_pct": "discount on the bill, percent",
    "num_devices": "devices registered (1 to 5)",
}
# The schema-change fault renames one of these (the seed picks which), as a "units in names"
# cleanup that forgot the clients would have.
RENAMES = {
    "monthly_charges": "monthly_charges_usd",
    "tenure_months": "tenure_months_total",
    "support_tickets": "support_tickets_90d",
    "days_since_last_login": "days_since_login",
    "avg_session_minutes": "avg_session_mins",
}

CONFIG_TEMPLATE = """\
# churn-svc configuration. The worker reads this file once, when it starts: after a change,
# run `svcctl restart`. Each start logs the effective config as a `startup config` line.

# The model to serve, from the registry: models/<name>/<version>/model.joblib.
model:
  name: churn
  version: {version}

# Input features, in the order the model takes them. Each instance sent to /predict is an
# object with exactly these keys, all numbers.
features:
{features}

# Attach per-feature explanations (Shapley values) to every prediction, computed per request.
explain: {explain}

# Keep a trace of each request's working buffers in memory, for the debug dump.
trace_requests: {trace}
"""


def render_config(
    version: str = "v1",
    features: list[str] = FEATURES,
    explain: bool = False,
    trace: bool = False,
) -> str:
    return CONFIG_TEMPLATE.format(
        version=version,
        features="\n".join(f"  - {name}" for name in features),
        explain=str(explain).lower(),
        trace=str(trace).lower(),
    )


def sample(n: int, rng: np.random.Generator) -> np.ndarray:
    """Customers as an (n, 8) float array in FEATURES order, rounded as clients send them."""
    columns = [
        np.clip(np.rint(rng.gamma(2.0, 14.0, n)), 1, 72),
        np.clip(rng.normal(65.0, 20.0, n), 18, 130).round(2),
        rng.poisson(1.3, n).astype(float),
        rng.gamma(3.0, 1.5, n).round(1),
        rng.lognormal(np.log(20.0), 0.45, n).round(1),
        np.floor(rng.exponential(7.0, n)),
        (100 * rng.beta(2.0, 8.0, n)).round(1),
        rng.integers(1, 6, n).astype(float),
    ]
    return np.column_stack(columns)


def churn_probability(x: np.ndarray) -> np.ndarray:
    tenure, charges, tickets, sessions, minutes, idle, discount, devices = x.T
    z = (
        -1.6
        - 0.055 * (tenure - 28)
        + 0.035 * (charges - 65)
        + 0.65 * (tickets - 1.3)
        - 0.30 * (sessions - 4.5)
        - 1.2 * np.log(minutes / 20)
        + 0.12 * (idle - 7)
        - 0.04 * (discount - 20)
        - 0.15 * (devices - 3)
    )
    return 1.0 / (1.0 + np.exp(-z))


def as_instance(row: np.ndarray) -> dict[str, int | float]:
    return {
        name: int(value) if name in INTEGER else float(value)
        for name, value in zip(FEATURES, row, strict=True)
    }


def canaries(
    model: GradientBoostingClassifier, rng: np.random.Generator
) -> list[dict[str, object]]:
    """Prober requests: 4 rows each, 2 the model confidently calls churn and 2 it confidently
    calls not churn, in a random order; the expected answer is the model's own."""
    pool = sample(20000, rng)
    p = model.predict_proba(pool)[:, 1]
    positives = rng.permutation(np.flatnonzero(p > 1 - CONFIDENT))[: 2 * CANARY_LINES]
    negatives = rng.permutation(np.flatnonzero(p < CONFIDENT))[: 2 * CANARY_LINES]
    if len(positives) < 2 * CANARY_LINES or len(negatives) < 2 * CANARY_LINES:
        raise SystemExit("not enough confident rows for the canaries; change the world")
    lines = []
    for k in range(CANARY_LINES):
        rows = pool[rng.permutation([*positives[2 * k : 2 * k + 2], *negatives[2 * k : 2 * k + 2]])]
        predictions = [int(v) for v in model.predict(rows)]
        assert sorted(predictions) == [0, 0, 1, 1]
        lines.append(
            {
                "body": {"instances": [as_instance(row) for row in rows]},
                "expect": {"predictions": predictions},
            }
        )
    return lines


def model_card_v1(auc: float, accuracy: float, churn_rate: float, x: np.ndarray) -> str:
    low, high = np.percentile(x, 5, axis=0), np.percentile(x, 95, axis=0)
    rows = []
    for j, name in enumerate(FEATURES):
        kind, digits = ("integer", 0) if name in INTEGER else ("number", 1)
        span = f"{low[j]:.{digits}f} to {high[j]:.{digits}f}"
        rows.append(f"| `{name}` | {kind} | {MEANING[name]} | {span} |")
    table = "\n".join(rows)
    return f"""\
# churn v1

Predicts whether a customer churns within 90 days (`1`) or not (`0`).

- Model: scikit-learn {sklearn.__version__} `GradientBoostingClassifier` (150 trees, depth 3),
  fitted on a plain array whose columns are the features below, in this order.
- Trained: 2026-10-05 on {TRAIN_ROWS} customers of the 2026-Q3 snapshot; validated on
  {VAL_ROWS} held-out customers.
- Validation: ROC AUC {auc:.3f}, accuracy {accuracy:.3f} (churn rate {churn_rate:.3f}).
- `background.npy`: {BACKGROUND_ROWS} training rows, the reference sample for explanations.

| feature | type | meaning | typical range (5th to 95th percentile) |
|---|---|---|---|
{table}
"""


def model_card_v2(auc: float) -> str:
    return f"""\
# churn v2

Predicts whether a customer churns within 90 days (`1`) or not (`0`). Drop-in replacement
for v1: same features, same order, same output.

- Model: retrained by the weekly pipeline on 11,840 customers of the 2026-Q4 snapshot, with
  recalibrated probabilities.
- Trained: 2026-11-20; validated on 2,960 held-out customers.
- Validation: ROC AUC {auc + 0.031:.3f} (v1: {auc:.3f}), accuracy 0.861.
- Rollout: approved by the pipeline's evaluation gate (AUC not worse than the current model).
"""


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def write_json(path: Path, value: object) -> None:
    write(path, json.dumps(value) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    args = parser.parse_args()
    out: Path = args.out
    rng = np.random.default_rng(args.seed)

    x = sample(TRAIN_ROWS + VAL_ROWS, rng)
    y = (rng.random(len(x)) < churn_probability(x)).astype(int)
    x_train, y_train, x_val, y_val = x[:TRAIN_ROWS], y[:TRAIN_ROWS], x[TRAIN_ROWS:], y[TRAIN_ROWS:]
    good = GradientBoostingClassifier(n_estimators=150, max_depth=3, random_state=0)
    good.fit(x_train, y_train)
    auc = float(roc_auc_score(y_val, good.predict_proba(x_val)[:, 1]))
    accuracy = float(accuracy_score(y_val, good.predict(x_val)))
    bad = DummyClassifier(strategy="prior").fit(x_train, y_train)

    service = out / "workspace" / "service"
    write(service / "config.yaml", render_config())
    v1 = service / "models" / "churn" / "v1"
    v1.mkdir(parents=True, exist_ok=True)
    joblib.dump(good, v1 / "model.joblib")
    np.save(v1 / "background.npy", x_train[:BACKGROUND_ROWS])
    write(v1 / "MODEL_CARD.md", model_card_v1(auc, accuracy, float(y_val.mean()), x_train))
    write(service / "logs" / ".keep", "")

    hidden = out / "hidden"
    lines = canaries(good, rng)
    write(hidden / "probe" / "canaries.jsonl", "".join(json.dumps(line) + "\n" for line in lines))
    inputs = sample(CORRECTNESS_ROWS, rng)
    write_json(hidden / "correctness" / "inputs.json", [as_instance(row) for row in inputs])
    write_json(hidden / "correctness" / "expected.json", [int(v) for v in good.predict(inputs)])

    faults = hidden / "faults"
    rollout = faults / "bad-model-rollout" / "service"
    write(rollout / "config.yaml", render_config(version="v2"))
    (rollout / "models" / "churn" / "v2").mkdir(parents=True, exist_ok=True)
    joblib.dump(bad, rollout / "models" / "churn" / "v2" / "model.joblib")
    write(rollout / "models" / "churn" / "v2" / "MODEL_CARD.md", model_card_v2(auc))
    write(faults / "latency-regression" / "service" / "config.yaml", render_config(explain=True))
    write(faults / "memory-leak" / "service" / "config.yaml", render_config(trace=True))
    renamed = str(np.random.default_rng([args.seed, 1]).choice(sorted(RENAMES)))
    features = [RENAMES[name] if name == renamed else name for name in FEATURES]
    write(faults / "schema-change" / "service" / "config.yaml", render_config(features=features))

    print(
        f"seed {args.seed}: validation AUC {auc:.3f}, accuracy {accuracy:.3f}, "
        f"churn rate {y.mean():.3f}; {len(lines)} canaries; "
        f"schema change renames {renamed} -> {RENAMES[renamed]}"
    )


if __name__ == "__main__":
    main()
