"""The base of every typed spec model (unknown keys are errors, values are immutable) and the
helpers that turn a spec's problems into lines naming their field path."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def describe(err: Mapping[str, Any]) -> str:
    loc = ".".join(str(part) for part in err["loc"]) or "(top level)"
    msg = str(err["msg"])
    if err["type"] == "missing":
        return f"{loc}: required field is missing"
    if err["type"] == "extra_forbidden":
        return f"{loc}: unknown field (check the spelling; see docs/challenge-format.md)"
    return f"{loc}: {msg} (got {err.get('input')!r})"


def check_kind(
    where: str,
    what: str,
    kind: str,
    params: dict[str, Any],
    models: Mapping[str, type[BaseModel]],
) -> Iterable[str]:
    """A ``what`` (grader, fault) names an installed kind, and its params fit the kind's."""
    model = models.get(kind)
    if model is None:
        yield f"{where}.kind: unknown {what} kind {kind!r} (known: {sorted(models)})"
        return
    try:
        model.model_validate(params)
    except ValidationError as exc:
        for err in exc.errors():
            yield describe({**err, "loc": (where, "params", *err["loc"])})


def twice(field: str, names: list[str]) -> Iterable[str]:
    seen: set[str] = set()
    for index, name in enumerate(names):
        if name in seen:
            yield f"{field}.{index}.name: {name!r} is used twice"
        seen.add(name)
