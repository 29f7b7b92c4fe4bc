"""Result documents (docs/json-output.md) for tests: complete where the model requires a field,
holding what each test names."""

from __future__ import annotations

from typing import Any

STATE: dict[str, Any] = {
    "run_id": "r1",
    "challenge": "deploy-model",
    "challenge_version": "1.0",
    "candidate": "ann",
    "status": "graded",
    "created_at": "2030-01-01T00:00:00+00:00",
}
"""The run's own fields, as the store would give them."""


def grader_entry(name: str, score: float = 1.0, **fields: Any) -> dict[str, Any]:
    """A whole ``graders[]`` entry of kind ``name`` unless ``fields`` say otherwise."""
    return {
        "name": name,
        "kind": name,
        "competency": "deployment",
        "score": score,
        "weight": 1.0,
        "passed": score >= 0.5,
        "sem": None,
        "summary": f"{name} scored {score:g}",
        "error": None,
        "duration_s": 1.0,
        "evidence": {},
        **fields,
    }


def result_doc(*graders: dict[str, Any], **fields: Any) -> dict[str, Any]:
    """A stored result document with these grader entries."""
    return {**STATE, "graders": list(graders), **fields}
