"""The reference part of docs/authoring.md, rendered from the typed models so it cannot drift:
every field of ``challenge.yaml`` (walked through its nested models) and every registered
grader kind's parameters.

Regenerate it with ``python -m prodproven.runner.present.specdoc docs/authoring.md``: the
text between the reference markers is replaced, the rest of the file is left alone.
"""

from __future__ import annotations

import inspect
import re
import sys
import types
import typing
from collections.abc import Iterator, Mapping
from enum import Enum
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import to_jsonable_python

from prodproven.graders.base import Grader
from prodproven.runner import plugins
from prodproven.runner.errors import ProdprovenError
from prodproven.runner.spec.challenge import ChallengeSpec

START = "<!-- reference:start -->"
END = "<!-- reference:end -->"
REGENERATE = "python -m prodproven.runner.present.specdoc docs/authoring.md"
_SHOWN_FILE = re.compile(r'^```\w+ title="(?P<path>[^"]+)"\n(?P<body>.*?)^```$', re.M | re.S)


def render_reference(graders: Mapping[str, type[Grader[Any]]]) -> str:
    """The reference as Markdown: the spec's fields, then each grader kind's parameters."""
    parts = [
        f"<!-- generated from the typed models by `{REGENERATE}`; do not edit by hand -->",
        "",
        "### `challenge.yaml`",
        "",
        *_table("field", ChallengeSpec),
    ]
    for kind in sorted(graders):
        grader = graders[kind]
        parts += ["", f"### Grader `{kind}`", "", grader.description, ""]
        parts += _table("parameter", grader.Params)
    return "\n".join(parts) + "\n"


def with_reference(document: str, reference: str) -> str:
    """``document`` with the text between its reference markers replaced by ``reference``.

    Raises ProdprovenError when the markers are missing or out of order.
    """
    head, start, rest = document.partition(START)
    _, end, tail = rest.partition(END)
    if not start or not end:
        raise ProdprovenError(f"the document has no {START} ... {END} block to regenerate")
    return f"{head}{START}\n{reference}{END}{tail}"


def reference_in(document: str) -> str:
    """The text between ``document``'s reference markers ("" when it has none)."""
    return document.partition(START)[2].partition(END)[0].removeprefix("\n")


def shown_files(document: str) -> dict[str, str]:
    """The files a Markdown document shows in full, by path: each code block opened with an
    info string such as ``yaml title="hello-service/challenge.yaml"``."""
    return {match["path"]: match["body"] for match in _SHOWN_FILE.finditer(document)}


def _table(first: str, model: type[BaseModel]) -> list[str]:
    rows = [f"| {first} | type | default | description |", "|---|---|---|---|"]
    for path, field in _fields(model):
        cells = [
            f"`{path}`",
            f"`{_type_name(field.annotation)}`",
            _default(field),
            field.description or "",
        ]
        rows.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    return rows


def _fields(model: type[BaseModel], prefix: str = "") -> Iterator[tuple[str, FieldInfo]]:
    """Every field of ``model`` and of the models its fields hold, as (dotted path, field);
    a list of models adds ``[]`` to the path (``services[].name``)."""
    for name, field in model.model_fields.items():
        path = f"{prefix}{name}"
        yield path, field
        for inner, suffix in _models_in(field.annotation):
            yield from _fields(inner, f"{path}{suffix}.")


def _models_in(annotation: Any, suffix: str = "") -> Iterator[tuple[type[BaseModel], str]]:
    if inspect.isclass(annotation) and issubclass(annotation, BaseModel):
        yield annotation, suffix
        return
    origin = typing.get_origin(annotation)
    for arg in typing.get_args(annotation):
        yield from _models_in(arg, suffix + "[]" if origin is list else suffix)


def _type_name(annotation: Any) -> str:
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is Literal:
        return " | ".join(str(arg) for arg in args)
    if origin in (typing.Union, types.UnionType):
        return " | ".join(_type_name(arg) for arg in args)
    if origin is not None:
        return f"{origin.__name__}[{', '.join(_type_name(arg) for arg in args)}]"
    if annotation is type(None):
        return "None"
    if annotation is Any:
        return "Any"
    if inspect.isclass(annotation) and issubclass(annotation, Enum):
        return " | ".join(str(member.value) for member in annotation)
    return str(annotation.__name__)


def _default(field: FieldInfo) -> str:
    if field.is_required():
        return "required"
    value = field.get_default(call_default_factory=True, validated_data={})
    if value is None:
        return "none"
    if isinstance(value, BaseModel) and not value.model_fields_set:
        return "its fields' defaults"
    if isinstance(value, BaseModel):
        value = value.model_dump(exclude_unset=True)
    flow = yaml.safe_dump(to_jsonable_python(value), default_flow_style=True, width=1000)
    return f"`{flow.strip().removesuffix('...').strip()}`"


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def main() -> None:
    """``python -m prodproven.runner.present.specdoc FILE``: regenerate FILE's reference block
    in place."""
    if len(sys.argv) != 2:
        sys.exit(f"usage: {REGENERATE}")
    path = Path(sys.argv[1])
    try:
        path.write_text(with_reference(path.read_text(), render_reference(plugins.graders())))
    except ProdprovenError as exc:
        sys.exit(f"error: {path}: {exc}")


if __name__ == "__main__":
    main()
