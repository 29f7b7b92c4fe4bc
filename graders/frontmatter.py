"""Markdown documents a candidate writes for a grader (a postmortem, a decision record): YAML
front matter between ``---`` lines, then sections under headings.

The front matter is read with the bounded YAML loader (sandbox/untrusted.py): the document is
the candidate's, so an alias bomb or a huge block is refused with a reason, not expanded.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from prodproven.graders.base import EvaluationEnvironment, GradeResult
from prodproven.sandbox.untrusted import UntrustedInput, load_yaml

_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")
_FENCE = re.compile(r"^\s*(```|~~~)")


MAX_DOCUMENT_BYTES = 2**20
"""The most of a candidate's document that is read."""


class DocumentInvalid(ValueError):
    """The document cannot be read as the brief asks; the message says why."""


@dataclass(frozen=True)
class Document:
    front: dict[str, Any]
    sections: dict[str, str]
    """Normalised heading (:func:`norm`) -> body text, stripped; headings inside code fences
    are text."""


def norm(heading: str) -> str:
    """A heading as sections are keyed: lower case, runs of other characters as one space."""
    return re.sub(r"[^a-z0-9]+", " ", heading.lower()).strip()


def parse_document(text: str, *, required: tuple[str, ...] = ()) -> Document:
    """Split front matter and sections. Raises DocumentInvalid saying what is wrong, including
    which of the ``required`` front matter keys are absent."""
    lines = text.lstrip("\ufeff").splitlines()
    if not lines or lines[0].strip() != "---":
        raise DocumentInvalid("it does not start with a front matter block ('---' on line 1)")
    try:
        end = next(i for i, line in enumerate(lines[1:], start=1) if line.strip() == "---")
    except StopIteration:
        raise DocumentInvalid("the front matter block is not closed with '---'") from None
    try:
        front = load_yaml("\n".join(lines[1:end]), what="the front matter") or {}
    except UntrustedInput as exc:
        raise DocumentInvalid(str(exc)) from None
    if not isinstance(front, dict):
        raise DocumentInvalid("the front matter must be a mapping of keys to values")
    missing = [key for key in required if key not in front]
    if missing:
        raise DocumentInvalid(f"the front matter lacks {', '.join(missing)}")
    sections: dict[str, list[str]] = {}
    current: list[str] | None = None
    fenced = False
    for line in lines[end + 1 :]:
        if _FENCE.match(line):
            fenced = not fenced
        heading = None if fenced else _HEADING.match(line)
        if heading:
            current = sections.setdefault(norm(heading.group(2)), [])
        elif current is not None:
            current.append(line)
    return Document(front, {k: "\n".join(v).strip() for k, v in sections.items()})


D = TypeVar("D", bound=Document)


def read_document(env: EvaluationEnvironment, rel: str, parse: Callable[[str], D]) -> D:
    """The workspace file ``rel`` (as data) parsed by ``parse``. Raises DocumentInvalid
    ("postmortem.md is missing from the workspace", "... cannot be read: <why>")."""
    raw = env.workspace_file(rel, max_bytes=MAX_DOCUMENT_BYTES)
    if raw is None:
        raise DocumentInvalid(f"{rel} is missing from the workspace")
    try:
        return parse(raw.decode("utf-8", "replace"))
    except DocumentInvalid as exc:
        raise DocumentInvalid(f"{rel} cannot be read: {exc}") from None


def zero_because(reason: str) -> GradeResult:
    """A zero score for a reason that is the candidate's (a document missing or unreadable),
    not the grader's, so with no ``error``."""
    return GradeResult(score=0.0, passed=False, summary=reason, evidence={"problem": reason})
