"""A small generated pull request for the review, fixes and claims graders' tests: its hidden
manifest (three seeded defects, one decoy, three claims on PR.md lines 8 to 10) and a builder
of the candidate's review.md."""

from __future__ import annotations

import json
from typing import Any

import yaml

from tests.conftest import BUILTIN

BASE = "a" * 40
HEAD = "b" * 40
CATEGORIES: list[str] = next(
    grader["params"]["categories"]
    for grader in yaml.safe_load((BUILTIN / "review-ai-change" / "challenge.yaml").read_text())[
        "graders"
    ]
    if grader["kind"] == "review"
)
"""The categories review-ai-change's brief lists, as its spec gives them to the grader."""
MANIFEST: dict[str, Any] = {
    "repo": "repo",
    "base": "main",
    "head": "ai/change",
    "base_commit": BASE,
    "head_commit": HEAD,
    "defects": [
        {
            "id": "cache-race",
            "file": "service/cache.py",
            "lines": [40, 47],
            "category": "concurrency",
            "severity": "blocker",
            "title": "LRU cache without a lock",
            "tests": ["test_defects.py::test_cache_is_thread_safe"],
        },
        {
            "id": "path-traversal",
            "file": "service/models.py",
            "lines": [12, 14],
            "category": "security",
            "severity": "major",
            "title": "version joined into a path",
            "tests": ["test_defects.py::test_model_version_is_checked"],
        },
        {
            "id": "last-chunk",
            "file": "service/batch.py",
            "lines": [20, 22],
            "category": "off_by_one",
            "severity": "minor",
            "title": "last chunk dropped",
            "tests": ["test_defects.py::test_every_row_is_scored"],
        },
    ],  # fmt: skip
    "decoys": [
        {
            "id": "ffill",
            "file": "training/data.py",
            "lines": [30, 33],
            "looks_like": "data_leakage",
            "why_right": "forward fill in time order",
        },
    ],  # fmt: skip
    "claims": [
        {
            "id": "tests",
            "kind": "true",
            "metric": "tests_passed",
            "lines": [8, 8],
            "text": "All tests pass",
        },
        {
            "id": "latency",
            "kind": "ratio",
            "metric": "p95_ms",
            "at_most": 0.6,
            "lines": [9, 9],
            "text": "p95 latency of single-request scoring down 40%",
        },
        {
            "id": "auc",
            "kind": "delta",
            "metric": "auc",
            "within": 0.005,
            "lines": [10, 10],
            "text": "Holdout AUC unchanged (0.871 -> 0.872)",
        },
    ],  # fmt: skip
    "feature_tests": [
        "test_feature.py::test_batch_matches_single",
        "test_feature.py::test_cache_hits",
    ],
}
"""Weights with the default severity weights: blocker 3, major 2, minor 1 (total 6)."""


def manifest(**changes: Any) -> bytes:
    """The manifest as hidden JSON, with top-level keys replaced by ``changes``."""
    return json.dumps({**MANIFEST, **changes}).encode()


def finding(
    file: str, line: int, category: str, severity: str = "major", comment: str = "why"
) -> dict[str, Any]:
    return {"file": file, "line": line, "category": category, "severity": severity,
            "comment": comment}  # fmt: skip


CACHE = finding("service/cache.py", 42, "concurrency", "blocker")
MODELS = finding("service/models.py", 13, "security")
BATCH = finding("service/batch.py", 21, "off_by_one", "minor")
EVERY_DEFECT = [CACHE, MODELS, BATCH]


def review_md(findings: list[Any], verdict: str = "request_changes", text: str = "") -> bytes:
    """review.md as a candidate writes it: front matter, then free text."""
    front = yaml.safe_dump({"verdict": verdict, "findings": findings}, sort_keys=False)
    return f"---\n{front}---\n\n{text or 'Notes for the author.'}\n".encode()
