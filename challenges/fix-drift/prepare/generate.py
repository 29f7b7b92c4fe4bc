"""Generate fix-drift's data and current champion model, deterministically from a seed.

Runs inside the challenge image (no network) as `python generate.py OUT [--seed N]` and writes:

    OUT/workspace/data/reference.csv                 training period, labelled
    OUT/workspace/data/production.csv                recent traffic, unlabelled
    OUT/workspace/data/production_labeled_sample.csv small labelled post-drift sample
    OUT/hidden/test.csv                              labelled post-drift test set
    OUT/hidden/drift/truth.json                      the drifted features, sorted
    OUT/hidden/baseline/champion.joblib              the current champion (same as below)
    OUT/setup/champion.joblib, champion.json,
              input_example.csv                      seeded into MLflow before the run

The world: ten independent features and a logit-linear churn probability. After the drift,
three features change distribution (covariate drift) and, for one segment defined by a fourth
feature, customers churn much more than before at equal features (concept drift: that
feature's relationship with churn changed, its distribution did not). The seed picks which
features and how strongly; the other features keep exactly their reference distribution and
effect, so "drifted" is the union of both sets and nothing else.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import GradientBoostingClassifier
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder

DEFAULT_SEED = 20261121
ROWS = {"reference": 8000, "production": 5000, "sample": 600, "test": 4000}

NUMERIC = [
    "tenure_months",
    "monthly_charges",
    "support_tickets",
    "sessions_per_week",
    "avg_session_minutes",
    "days_since_last_login",
    "discount_pct",
    "num_devices",
]
CATEGORICAL = ["plan", "region"]
FEATURES = NUMERIC + CATEGORICAL
LABEL = "churned"
PLANS = ["basic", "standard", "premium"]
REGIONS = ["north", "south", "east", "west"]


@dataclass(frozen=True)
class Concept:
    feature: str
    values: tuple[str | int, ...]
    shift: float


@dataclass(frozen=True)
class World:
    """Parameters of the feature distributions; the drifted world overrides some of them."""

    tenure_scale: float = 14.0
    charges_mean: float = 60.0
    tickets_rate: float = 1.2
    sessions_scale: float = 1.5
    minutes_median: float = 20.0
    login_scale: float = 7.0
    discount_a: float = 2.0
    plan_p: tuple[float, ...] = (0.40, 0.35, 0.25)
    region_p: tuple[float, ...] = (0.30, 0.25, 0.25, 0.20)
    # concept drift: customers whose `feature` is in `values` get `shift` added to their logit
    concept: Concept | None = None


def sample(world: World, n: int, rng: np.random.Generator) -> pd.DataFrame:
    frame = pd.DataFrame(
        {
            "tenure_months": np.clip(np.rint(rng.gamma(2.0, world.tenure_scale, n)), 1, 120),
            "monthly_charges": np.clip(rng.normal(world.charges_mean, 18.0, n), 10, 160).round(2),
            "support_tickets": rng.poisson(world.tickets_rate, n),
            "sessions_per_week": rng.gamma(3.0, world.sessions_scale, n).round(1),
            "avg_session_minutes": rng.lognormal(np.log(world.minutes_median), 0.45, n).round(1),
            "days_since_last_login": np.floor(rng.exponential(world.login_scale, n)),
            "discount_pct": (100 * rng.beta(world.discount_a, 8.0, n)).round(1),
            "num_devices": rng.integers(1, 6, n),
            "plan": rng.choice(PLANS, n, p=list(world.plan_p)),
            "region": rng.choice(REGIONS, n, p=list(world.region_p)),
        }
    )
    for column in ("tenure_months", "support_tickets", "days_since_last_login", "num_devices"):
        frame[column] = frame[column].astype(np.int64)
    return frame


def logit(world: World, x: pd.DataFrame) -> np.ndarray:
    z = (
        -1.3
        - 0.032 * (x["tenure_months"] - 28)
        + 0.022 * (x["monthly_charges"] - 60)
        + 0.40 * (x["support_tickets"] - 1.2)
        - 0.18 * (x["sessions_per_week"] - 4.5)
        - 0.80 * np.log(x["avg_session_minutes"] / 20)
        + 0.080 * (x["days_since_last_login"] - 7)
        - 0.026 * (x["discount_pct"] - 20)
        - 0.09 * (x["num_devices"] - 3)
        + x["plan"].map({"basic": 0.32, "standard": 0.0, "premium": -0.44})
        + x["region"].map({"north": 0.0, "south": 0.14, "east": -0.32, "west": 0.04})
    ).to_numpy(dtype=float)
    if world.concept is not None:
        segment = x[world.concept.feature].isin(world.concept.values).to_numpy()
        z = z + world.concept.shift * segment
    return z


def churn_probability(world: World, x: pd.DataFrame) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-logit(world, x)))


def labelled(world: World, n: int, rng: np.random.Generator) -> tuple[pd.DataFrame, np.ndarray]:
    """A labelled frame (features then `churned`) and the true churn probability of each row."""
    x = sample(world, n, rng)
    p = churn_probability(world, x)
    x[LABEL] = (rng.random(n) < p).astype(np.int64)
    return x, p


# Covariate drifts: each changes one feature's distribution, by k in [0.8, 1.2] times its
# nominal size so that variants differ; each moves the KS statistic (chi-squared for the
# categoricals) far beyond what sampling noise can at these sizes.
COVARIATE: dict[str, Callable[[World, float], World]] = {
    "tenure_months": lambda w, k: replace(w, tenure_scale=w.tenure_scale * (1 - 0.35 * k)),
    "monthly_charges": lambda w, k: replace(w, charges_mean=w.charges_mean + 12 * k),
    "support_tickets": lambda w, k: replace(w, tickets_rate=w.tickets_rate * (1 + 0.6 * k)),
    "sessions_per_week": lambda w, k: replace(w, sessions_scale=w.sessions_scale * (1 - 0.3 * k)),
    "avg_session_minutes": lambda w, k: replace(
        w, minutes_median=w.minutes_median * (1 + 0.35 * k)
    ),
    "days_since_last_login": lambda w, k: replace(w, login_scale=w.login_scale * (1 + 0.6 * k)),
    "discount_pct": lambda w, k: replace(w, discount_a=w.discount_a * (1 + 0.6 * k)),
    "plan": lambda w, k: replace(w, plan_p=(0.40 + 0.15 * k, 0.35, 0.25 - 0.15 * k)),
    "region": lambda w, k: replace(w, region_p=(0.30 - 0.12 * k, 0.25 + 0.12 * k, 0.25, 0.20)),
}

# Concept-drift segments: 25-40% of customers, each a low-risk segment in the reference period
# that now churns far more (a +2.6 to +3.0 logit shift), so the old ranking breaks.
SEGMENTS: dict[str, tuple[str | int, ...]] = {
    "num_devices": (4, 5),
    "plan": ("premium",),
    "region": ("east",),
}


def drifted_world(rng: np.random.Generator) -> tuple[World, list[str], str]:
    """The post-drift world, its covariate-drifted features and its concept-drifted feature
    (never also covariate-drifted: only labels can reveal it)."""
    concept = str(rng.choice(sorted(SEGMENTS)))
    pool = sorted(set(COVARIATE) - {concept})
    covariate = [str(f) for f in rng.choice(pool, 3, replace=False)]
    world = World()
    for feature in covariate:
        world = COVARIATE[feature](world, float(rng.uniform(0.8, 1.2)))
    shift = float(rng.uniform(2.6, 3.0))
    world = replace(world, concept=Concept(concept, SEGMENTS[concept], shift))
    return world, sorted(covariate), concept


def champion_model() -> Pipeline:
    return Pipeline(
        [
            (
                "prep",
                ColumnTransformer(
                    [("categorical", OneHotEncoder(handle_unknown="ignore"), CATEGORICAL)],
                    remainder="passthrough",
                ),
            ),
            (
                "classifier",
                GradientBoostingClassifier(
                    n_estimators=200, max_depth=3, learning_rate=0.05, subsample=0.8, random_state=0
                ),
            ),
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    args = parser.parse_args()
    out: Path = args.out
    rng = np.random.default_rng(args.seed)

    before = World()
    after, covariate, concept = drifted_world(rng)
    reference, _ = labelled(before, ROWS["reference"], rng)
    production = sample(after, ROWS["production"], rng)
    labelled_sample, _ = labelled(after, ROWS["sample"], rng)
    test, oracle = labelled(after, ROWS["test"], rng)

    model = champion_model()
    train, val = train_test_split(
        reference, test_size=0.25, random_state=args.seed % 2**32, stratify=reference[LABEL]
    )
    model.fit(train[FEATURES], train[LABEL])
    val_auc = roc_auc_score(val[LABEL], model.predict_proba(val[FEATURES])[:, 1])
    settings = model.named_steps["classifier"].get_params()
    params = {
        "model": "GradientBoostingClassifier",
        **{k: settings[k] for k in ("n_estimators", "max_depth", "learning_rate", "subsample")},
        "training_rows": len(train),
        "training_period": "reference",
    }

    data = out / "workspace" / "data"
    for folder in (data, out / "hidden" / "drift", out / "hidden" / "baseline", out / "setup"):
        folder.mkdir(parents=True, exist_ok=True)
    reference.to_csv(data / "reference.csv", index=False)
    production.to_csv(data / "production.csv", index=False)
    labelled_sample.to_csv(data / "production_labeled_sample.csv", index=False)
    test.to_csv(out / "hidden" / "test.csv", index=False)
    truth = sorted([*covariate, concept])
    (out / "hidden" / "drift" / "truth.json").write_text(json.dumps(truth) + "\n")
    joblib.dump(model, out / "setup" / "champion.joblib")
    joblib.dump(model, out / "hidden" / "baseline" / "champion.joblib")
    reference[FEATURES].head(5).to_csv(out / "setup" / "input_example.csv", index=False)
    (out / "setup" / "champion.json").write_text(
        json.dumps({"params": params, "val_auc": round(float(val_auc), 4)}, indent=2) + "\n"
    )

    baseline_auc = roc_auc_score(test[LABEL], model.predict_proba(test[FEATURES])[:, 1])
    print(
        f"seed {args.seed}: reference {len(reference)}, production {len(production)}, "
        f"labelled sample {len(labelled_sample)}, hidden test {len(test)} rows"
    )
    print(f"drifted: {truth} (covariate {covariate}, concept {concept})")
    print(f"churn rate: reference {reference[LABEL].mean():.3f}, test {test[LABEL].mean():.3f}")
    print(
        f"champion AUC: reference validation {val_auc:.3f}, hidden test {baseline_auc:.3f}; "
        f"oracle on hidden test {roc_auc_score(test[LABEL], oracle):.3f}"
    )


if __name__ == "__main__":
    main()
