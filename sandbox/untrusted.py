"""Reading what comes from outside: a spec, a pack, a form, the API, a file a candidate's
container wrote. One place decides how much of it is read and where its paths may lead, so
every caller refuses the same hostile input with the same clear error.

- :func:`confine`: a relative path resolved inside the folder it belongs to (symlinks
  followed, then checked), or :class:`UntrustedInput`.
- :func:`load_yaml`: safe YAML with a size, alias and depth limit (an alias bomb is refused
  while it is being read, not after it has grown).
- :func:`load_json`: JSON with a size and depth limit.
- :func:`finite`: a number that is finite and within a range.

It lives in the lowest layer because graders read candidate output too.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path, PurePosixPath
from typing import Any

import yaml

from prodproven.sandbox.errors import ProdprovenError

MAX_TEXT_BYTES = 1 << 20
"""The default size limit of one YAML or JSON document (1 MiB)."""
MAX_ALIASES = 64
"""The default number of YAML aliases (``*name``) one document may use."""
MAX_DEPTH = 64
"""The default nesting depth of one YAML or JSON document."""


class UntrustedInput(ProdprovenError):
    """Input from outside was refused: too large, too deep, a path leading out of its
    folder, a number out of range. The message names what and where."""


def confine(base: Path, relative: str | os.PathLike[str], *, what: str) -> Path:
    """``relative`` resolved inside ``base``: absolute paths, ``..`` and symlinks leading out
    of ``base`` are refused. Returns the resolved path (which may not exist yet)."""
    text = os.fspath(relative)
    shown = repr(text) if len(text) <= 120 else repr(text[:120]) + "..."
    if not text or "\x00" in text:
        raise UntrustedInput(f"{what}: {shown} is not a path")
    pure = PurePosixPath(text.replace("\\", "/"))
    if pure.is_absolute() or ".." in pure.parts:
        raise UntrustedInput(f"{what}: {shown} must be a path inside {base}, without '..'")
    try:
        root = base.resolve()
        resolved = (root / pure).resolve()
    except (OSError, RuntimeError) as exc:  # RuntimeError: a symlink loop (Python 3.11)
        reason = getattr(exc, "strerror", None) or "a symlink loop"
        raise UntrustedInput(f"{what}: {shown} cannot be resolved ({reason})") from exc
    if resolved != root and not resolved.is_relative_to(root):
        raise UntrustedInput(f"{what}: {shown} leads out of {base} (through a symlink)")
    return resolved


def read_text(path: Path, *, what: str, max_bytes: int = MAX_TEXT_BYTES) -> str:
    """A file's text, refused when larger than ``max_bytes`` (checked before reading) or not
    UTF-8."""
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise UntrustedInput(f"{what}: {path} is {size} bytes, over the limit of {max_bytes}")
        with path.open("rb") as fh:
            data = fh.read(max_bytes + 1)
    except OSError as exc:
        raise UntrustedInput(f"{what}: cannot read {path}: {exc.strerror or exc}") from exc
    if len(data) > max_bytes:
        raise UntrustedInput(f"{what}: {path} is over the limit of {max_bytes} bytes")
    try:
        return data.decode()
    except UnicodeDecodeError as exc:
        raise UntrustedInput(f"{what}: {path} is not UTF-8 text ({exc.reason})") from exc


class _BoundedLoader(yaml.SafeLoader):
    """A safe loader that counts aliases and nesting while composing the document."""

    max_aliases = MAX_ALIASES
    max_depth = MAX_DEPTH

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._aliases = 0
        self._depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            self._aliases += 1
            if self._aliases > self.max_aliases:
                mark = self.peek_event().start_mark  # type: ignore[no-untyped-call]
                raise yaml.YAMLError(
                    f"more than {self.max_aliases} aliases (line {mark.line + 1}); "
                    "write the values out"
                )
        self._depth += 1
        try:
            if self._depth > self.max_depth:
                mark = self.peek_event().start_mark  # type: ignore[no-untyped-call]
                raise yaml.YAMLError(
                    f"nested deeper than {self.max_depth} levels (line {mark.line + 1})"
                )
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def load_yaml(
    text: str,
    *,
    what: str,
    max_bytes: int = MAX_TEXT_BYTES,
    max_aliases: int = MAX_ALIASES,
    max_depth: int = MAX_DEPTH,
) -> Any:
    """Safe-load one YAML document within the limits; :class:`UntrustedInput` names ``what``
    and the problem (never the whole input)."""
    size = len(text.encode())
    if size > max_bytes:
        raise UntrustedInput(f"{what}: {size} bytes, over the limit of {max_bytes}")
    try:
        loader = _BoundedLoader(text)  # reads the text: a control character is refused here
    except yaml.YAMLError as exc:
        raise UntrustedInput(f"{what}: not valid YAML: {_short(str(exc))}") from exc
    loader.max_aliases, loader.max_depth = max_aliases, max_depth
    try:
        value = loader.get_single_data()
    except (yaml.YAMLError, ValueError) as exc:  # ValueError: 2020-13-45, 5000 digits
        raise UntrustedInput(f"{what}: not valid YAML: {_short(str(exc))}") from exc
    except RecursionError as exc:
        raise UntrustedInput(f"{what}: nested too deeply") from exc
    finally:
        loader.dispose()
    if _expanded(value, {}, max_bytes) > max_bytes:
        # Few aliases can still nest into billions of values (each one doubling the last).
        raise UntrustedInput(f"{what}: its aliases expand to more than {max_bytes} values")
    return value


def load_json(
    text: str | bytes, *, what: str, max_bytes: int = MAX_TEXT_BYTES, max_depth: int = MAX_DEPTH
) -> Any:
    """Parse one JSON document within the limits (NaN and Infinity refused);
    :class:`UntrustedInput` names ``what`` and the problem."""
    size = len(text) if isinstance(text, bytes) else len(text.encode())
    if size > max_bytes:
        raise UntrustedInput(f"{what}: {size} bytes, over the limit of {max_bytes}")
    try:
        value = json.loads(text, parse_constant=_no_constant)
    except RecursionError as exc:
        raise UntrustedInput(f"{what}: nested deeper than {max_depth} levels") from exc
    except (ValueError, UnicodeDecodeError) as exc:
        raise UntrustedInput(f"{what}: not valid JSON: {_short(str(exc))}") from exc
    if _depth(value) > max_depth:
        raise UntrustedInput(f"{what}: nested deeper than {max_depth} levels")
    return value


def finite(value: float, *, what: str, low: float, high: float) -> float:
    """``value`` when it is a finite number within [low, high]."""
    if not math.isfinite(value) or not low <= value <= high:
        raise UntrustedInput(f"{what}: {value!r} must be a number from {low:g} to {high:g}")
    return value


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _depth(value: Any) -> int:
    """Nesting depth of parsed JSON, walked without recursion."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict):
            deepest = max(deepest, level)
            stack.extend((v, level + 1) for v in item.values())
        elif isinstance(item, list):
            deepest = max(deepest, level)
            stack.extend((v, level + 1) for v in item)
    return deepest


def _expanded(value: Any, counted: dict[int, int], budget: int) -> int:
    """How many values ``value`` holds with every alias written out (shared lists and mappings
    counted once each, so a bomb is measured without being walked; stops past ``budget``, and
    a value that holds itself counts as past it)."""
    if not isinstance(value, dict | list):
        return 1
    known = counted.get(id(value))
    if known is None:
        counted[id(value)] = budget + 1  # a value holding itself (`&a [*a]`) never ends
        known = 1
        for item in value.values() if isinstance(value, dict) else value:
            known += _expanded(item, counted, budget)
            if known > budget:
                break
        counted[id(value)] = known
    return known


def _short(message: str, limit: int = 300) -> str:
    return message if len(message) <= limit else message[:limit] + " ..."
