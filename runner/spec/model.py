"""The base of every typed spec model (unknown keys are errors, values are immutable, numbers
finite), the challenge id's one pattern, and the helpers that turn a spec's problems into short
lines naming their field path (never echoing more than a little of the input)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

CHALLENGE_ID = r"^[a-z][a-z0-9-]{1,62}$"
"""The one pattern of a challenge id (a spec's ``id``, its folder's name, a pack manifest's
``id``, what the web and the API accept): it is safe as a folder name and in a URL."""
VERSION = r"^[0-9]{1,6}\.[0-9]{1,6}\.[0-9]{1,6}$"
"""A challenge version, X.Y.Z."""
MAX_NUMBER = 1e12
"""The largest magnitude of a number in a grader's or a fault's params."""
DAY_S = 24 * 3600.0
"""The longest time (in seconds) any field of a spec may give."""
MAX_PROBLEMS_CHARS = 700
"""A spec's problems are listed up to about this many characters, then counted."""
_SHOWN_CHARS = 60


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


def is_challenge_id(text: object) -> bool:
    """Whether ``text`` is a challenge id (and so never a path)."""
    return isinstance(text, str) and re.fullmatch(CHALLENGE_ID, text) is not None


def version_key(text: str) -> tuple[int, ...] | None:
    """A version's parts for ordering, or None when it is not X.Y.Z."""
    if re.fullmatch(VERSION, text) is None:
        return None
    return tuple(int(part) for part in text.split("."))


def shown(value: object) -> str:
    """A short repr of a value from outside: never more than a few dozen characters, however
    large or deeply shared the value is."""
    if isinstance(value, dict | list | tuple | set):
        text = f"a {type(value).__name__} of {len(value)}"
    else:
        try:
            text = repr(value)
        except ValueError:  # an int of thousands of digits
            text = f"a {type(value).__name__} too large to show"
    return text if len(text) <= _SHOWN_CHARS else text[: _SHOWN_CHARS - 3] + "..."


def describe(err: Mapping[str, Any]) -> str:
    loc = ".".join(_part(part) for part in err["loc"])
    loc = loc or "(top level)"
    msg = _cut(str(err["msg"]), 200)
    if err["type"] == "missing":
        return f"{loc}: required field is missing"
    if err["type"] == "extra_forbidden":
        return f"{loc}: unknown field (check the spelling; see docs/challenge-format.md)"
    return f"{loc}: {msg} (got {shown(err.get('input'))})"


def capped(problems: list[str]) -> list[str]:
    """The first problems, up to about MAX_PROBLEMS_CHARS, and how many more there are."""
    kept: list[str] = []
    used = 0
    for problem in problems:
        line = _cut(problem, 300)
        if kept and used + len(line) > MAX_PROBLEMS_CHARS:
            break
        kept.append(line)
        used += len(line)
    rest = len(problems) - len(kept)
    return kept + ([f"... and {rest} more (fix these first)"] if rest else [])


def unbounded_numbers(where: str, value: object) -> Iterator[str]:
    """Problems of the numbers in free-form ``value`` (params): each must be finite and at most
    MAX_NUMBER in size. Shared lists and mappings are walked once."""
    seen: set[int] = set()
    stack: list[tuple[str, object]] = [(where, value)]
    while stack:
        here, item = stack.pop()
        if isinstance(item, dict | list):
            if id(item) in seen:
                continue
            seen.add(id(item))
            pairs = item.items() if isinstance(item, dict) else enumerate(item)
            stack.extend((f"{here}.{_part(key)}", child) for key, child in pairs)
        elif (
            isinstance(item, int | float)
            and not isinstance(item, bool)
            and not abs(item) <= MAX_NUMBER
        ):  # NaN compares False too
            yield f"{here}: {shown(item)} must be a finite number of at most {MAX_NUMBER:g}"


def _part(key: object) -> str:
    """One step of a field path, shortened."""
    return _cut(key) if isinstance(key, str) else shown(key)


def _cut(text: str, limit: int = _SHOWN_CHARS) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


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
        yield f"{where}.kind: unknown {what} kind {shown(kind)} (known: {sorted(models)})"
        return
    numbers = list(unbounded_numbers(f"{where}.params", params))
    if numbers:
        yield from numbers
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
            yield f"{field}.{index}.name: {shown(name)} is used twice"
        seen.add(name)
