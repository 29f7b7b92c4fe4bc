"""What the generator writes besides the repository's code: the production model file, PR.md
with its claims, the hidden manifest, and the hidden test files assembled for the draw."""

from __future__ import annotations

import ast
import pickle
from dataclasses import dataclass
from pathlib import Path

import world
from catalogue import DECOYS
from variant import Draw

HIDDEN_SOURCES = Path(__file__).resolve().parent / "hidden"


def production_model(seed: int) -> bytes:
    """models/v3/model.pkl: the team's model (the world's true coefficients, raw units), as
    the pickled dict churn.model.LogisticModel.from_dict reads."""
    effects = world.for_seed(seed)[0].region_effect
    numeric = (-0.04, 0.025, 0.45, 0.06)  # tenure, charges, tickets, idle days
    plan = [world.PLAN_EFFECT[p] - world.PLAN_EFFECT["basic"] for p in world.PLANS[1:]]
    region = [effects[r] - effects[world.REGIONS[0]] for r in world.REGIONS[1:]]
    bias = -1.2 + 0.04 * 24 - 0.025 * 65 - 0.45 * 1.3 - 0.06 * 8
    bias += world.PLAN_EFFECT["basic"] + effects[world.REGIONS[0]]
    weights = [*numeric, *plan, *region]
    payload = {
        "weights": [round(w, 6) for w in weights],
        "bias": round(bias, 6),
        "mean": [0.0] * len(weights),
        "scale": [1.0] * len(weights),
    }
    return pickle.dumps(payload, protocol=4)


@dataclass(frozen=True)
class Claim:
    id: str
    kind: str
    metric: str
    bound: tuple[str, float] | None
    text: str


def claims(seed: int) -> tuple[Claim, ...]:
    base = world.oracle_auc(seed) - 0.004
    return (
        Claim("tests", "true", "tests_passed", None, "All tests pass (`pytest -q`)."),
        Claim(
            "latency",
            "ratio",
            "p95_ms",
            ("at_most", 0.6),
            "p95 latency of single-request scoring down 40% (0.21 ms -> 0.12 ms, local "
            "benchmark), thanks to the feature cache.",
        ),
        Claim(
            "auc",
            "delta",
            "auc",
            ("within", 0.005),
            f"Holdout AUC unchanged ({base:.3f} -> {base + 0.001:.3f}) while retraining is "
            "about 5x faster.",
        ),
    )


def pull_request(seed: int) -> tuple[str, dict[str, int]]:
    """PR.md's text, and each claim's line in it."""
    by_id = {claim.id: claim for claim in claims(seed)}
    head = [
        "# Batch scoring, a feature cache and faster retraining",
        "",
        "## Summary",
        "",
        "This PR adds the batch scoring the retention team asked for and makes the service",
        "and the retraining job faster.",
        "",
        "- **Batch scoring**: `POST /score/batch` scores up to 1000 customers per request,",
        "  in chunks, through a vectorised feature path (`churn.features.batch_matrix`). An",
        "  optional `model` field picks another registered model version (for A/B checks).",
        "- **Feature cache**: single requests cache each customer's feature vector",
        "  (`service/cache.py`, an LRU keyed by customer and record fingerprint).",
        "- **Faster retraining**: the pipeline fits on a random sample of the training rows",
        "  and stops early once the loss stops improving; evaluation now also reports",
        "  accuracy.",
        "",
        "## Results",
        "",
    ]
    results = ["latency", "auc", "tests"]
    lines = head + [f"- {by_id[cid].text}" for cid in results]
    tail = [
        "",
        "## Testing",
        "",
        "- New tests: `tests/test_batch.py`, `tests/test_cache.py`, `tests/test_retrain.py`.",
        "- Existing tests unchanged and green.",
        "",
        "## Risk",
        "",
        "Low: the single-request API is unchanged, batch scoring is a new endpoint, and the",
        "promotion gate still guards every retrained model.",
    ]
    where = {cid: len(head) + 1 + i for i, cid in enumerate(results)}
    return "\n".join(lines + tail) + "\n", where


def manifest(
    variant: Draw,
    shas: tuple[str, str],
    where: dict[str, tuple[str, tuple[int, int]]],
    claim_lines: dict[str, int],
    feature_tests: list[str],
) -> dict[str, object]:
    """hidden/manifest.json: what the graders read (see the design contract)."""
    defects = [
        {
            "id": d.id,
            "file": where[d.slot][0],
            "lines": list(where[d.slot][1]),
            "category": d.category,
            "severity": d.severity,
            "title": d.title,
            "tests": [f"test_defects.py::{name}" for name in d.tests],
        }
        for d in variant.defects
    ]
    decoys = [
        {
            "id": d.id,
            "file": where[d.slot][0],
            "lines": list(where[d.slot][1]),
            "looks_like": d.looks_like,
            "why_right": d.why_right,
        }
        for d in variant.decoys
    ]
    claim_entries = []
    for claim in claims(variant.seed):
        entry: dict[str, object] = {"id": claim.id, "kind": claim.kind, "metric": claim.metric}
        if claim.bound:
            entry[claim.bound[0]] = claim.bound[1]
        line = claim_lines[claim.id]
        claim_entries.append({**entry, "lines": [line, line], "text": claim.text})
    return {
        "repo": "repo",
        "base": "main",
        "head": "ai/change",
        "base_commit": shas[0],
        "head_commit": shas[1],
        "defects": defects,
        "decoys": decoys,
        "claims": claim_entries,
        "feature_tests": [f"test_feature.py::{name}" for name in feature_tests],
    }


def test_file(source: str, keep: set[str] | None, drop: set[str]) -> tuple[str, list[str]]:
    """``source`` (a test module) keeping its header and the test functions named in ``keep``
    (all when None) and not in ``drop``; returns the text and the kept names."""
    tree = ast.parse(source)
    lines = source.splitlines()
    tests = [
        node
        for node in tree.body
        if isinstance(node, ast.FunctionDef) and node.name.startswith("test_")
    ]
    first = tests[0].lineno - 1 - len(tests[0].decorator_list)
    header = "\n".join(lines[:first]).rstrip("\n")
    kept = [t for t in tests if (keep is None or t.name in keep) and t.name not in drop]
    bodies = ["\n".join(lines[t.lineno - 1 : t.end_lineno]) for t in kept]
    return header + "\n\n\n" + "\n\n\n".join(bodies) + "\n", [t.name for t in kept]


def hidden_tests(variant: Draw) -> tuple[dict[str, str], list[str]]:
    """hidden/tests/: conftest.py, the drawn defects' tests and the feature tests (without
    those protecting decoys that are not drawn); and the feature tests' names."""
    wanted = {name for d in variant.defects for name in d.tests}
    idle = {name for d in DECOYS if d not in variant.decoys for name in d.tests}
    defects, _ = test_file((HIDDEN_SOURCES / "test_defects.py").read_text(), wanted, set())
    feature, names = test_file((HIDDEN_SOURCES / "test_feature.py").read_text(), None, idle)
    files = {
        "conftest.py": (HIDDEN_SOURCES / "conftest.py").read_text(),
        "test_defects.py": defects,
        "test_feature.py": feature,
    }
    return files, names
