"""The churn world behind review-ai-change's data: customers, their churn labels, and the
files the claims harness measures on (train.csv, holdout.csv, requests.json).

Pure standard library (the generator also runs on hosts without numpy). A customer has four
numbers, a plan and one of 24 regions; the true log-odds mixes the numbers with a strong
per-region effect, so a model fitted on too few rows estimates the regions badly and ranks
worse on the holdout. Rows are monthly snapshots: the holdout is the most recent months.
"""

from __future__ import annotations

import csv
import io
import json
import math
import random
from dataclasses import dataclass

PLANS = ("basic", "plus", "premium")
REGIONS = tuple(f"r{i:02d}" for i in range(24))
COLUMNS = (
    "customer_id",
    "month",
    "tenure_months",
    "monthly_charges",
    "support_tickets",
    "idle_days",
    "plan",
    "region",
    "churned",
)
TRAIN_ROWS, HOLDOUT_ROWS, REQUESTS = 12000, 4000, 400
FIRST_MONTH, MONTHS = 202401, 24
PLAN_EFFECT = {"basic": 0.35, "plus": 0.0, "premium": -0.45}


@dataclass(frozen=True)
class World:
    """One variant's hidden truths: each region's effect on the log-odds."""

    region_effect: dict[str, float]

    @classmethod
    def draw(cls, rng: random.Random) -> World:
        return cls({region: rng.gauss(0.0, 1.3) for region in REGIONS})

    def logit(self, row: dict[str, object]) -> float:
        tenure = float(row["tenure_months"])  # type: ignore[arg-type]
        charges = float(row["monthly_charges"])  # type: ignore[arg-type]
        tickets = float(row["support_tickets"])  # type: ignore[arg-type]
        idle = float(row["idle_days"])  # type: ignore[arg-type]
        return (
            -1.2
            - 0.04 * (tenure - 24)
            + 0.025 * (charges - 65)
            + 0.45 * (tickets - 1.3)
            + 0.06 * (idle - 8)
            + PLAN_EFFECT[str(row["plan"])]
            + self.region_effect[str(row["region"])]
        )


def month_of(index: int) -> int:
    """The YYYYMM of the ``index``-th month after FIRST_MONTH."""
    year, month = divmod(FIRST_MONTH % 100 - 1 + index, 12)
    return (FIRST_MONTH // 100 + year) * 100 + month + 1


def customer(rng: random.Random, number: int, month: int) -> dict[str, object]:
    """One customer's snapshot, rounded as the export writes it."""
    return {
        "customer_id": f"c{number:06d}",
        "month": month,
        "tenure_months": min(72, max(1, round(rng.gammavariate(2.0, 12.0)))),
        "monthly_charges": round(min(130.0, max(18.0, rng.gauss(65.0, 20.0))), 2),
        "support_tickets": min(9, int(rng.expovariate(1 / 1.3))),
        "idle_days": min(120, int(rng.expovariate(1 / 8.0))),
        "plan": rng.choices(PLANS, weights=(5, 3, 2))[0],
        "region": rng.choice(REGIONS),
    }


def labelled(world: World, rng: random.Random, rows: int, months: range) -> list[dict[str, object]]:
    """``rows`` labelled snapshots spread over ``months`` (indices), sorted by month."""
    out = []
    for _ in range(rows):
        row = customer(rng, rng.randrange(10**6), month_of(rng.choice(months)))
        p = 1.0 / (1.0 + math.exp(-world.logit(row)))
        row["churned"] = int(rng.random() < p)
        out.append(row)
    out.sort(key=lambda r: (r["month"], r["customer_id"]))
    return out


def to_csv(rows: list[dict[str, object]]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def requests(rng: random.Random) -> list[dict[str, object]]:
    """Realistic single-request traffic: one snapshot per customer, customers mostly distinct
    (about one in twenty repeats an earlier customer with fresh numbers)."""
    out: list[dict[str, object]] = []
    for _ in range(REQUESTS):
        record = customer(rng, rng.randrange(10**6), month_of(MONTHS))
        if out and rng.random() < 0.05:
            record["customer_id"] = rng.choice(out)["customer_id"]
        del record["month"]
        out.append(record)
    return out


def for_seed(seed: int) -> tuple[World, random.Random]:
    """The variant's world, and the random stream its data is drawn from next."""
    rng = random.Random(seed * 7919 + 1)
    return World.draw(rng), rng


def claims_data(seed: int) -> dict[str, str]:
    """The claims harness's data files, by name."""
    world, rng = for_seed(seed)
    train = labelled(world, rng, TRAIN_ROWS, range(0, MONTHS - 4))
    holdout = labelled(world, rng, HOLDOUT_ROWS, range(MONTHS - 4, MONTHS))
    return {
        "train.csv": to_csv(train),
        "holdout.csv": to_csv(holdout),
        "requests.json": json.dumps(requests(rng), indent=1) + "\n",
    }


def oracle_auc(seed: int) -> float:
    """The holdout AUC of the true log-odds: the best any model can rank (for PR.md's figures)."""
    world, rng = for_seed(seed)
    labelled(world, rng, TRAIN_ROWS, range(0, MONTHS - 4))
    holdout = labelled(world, rng, HOLDOUT_ROWS, range(MONTHS - 4, MONTHS))
    scored = sorted((world.logit(row), int(row["churned"])) for row in holdout)  # type: ignore[call-overload]
    positives = sum(label for _, label in scored)
    rank_sum = sum(rank for rank, (_, label) in enumerate(scored, start=1) if label)
    return (rank_sum - positives * (positives + 1) / 2) / (positives * (len(scored) - positives))
