"""Checks of a challenge's files, before anything of it runs.

- ``files``: what the spec and its graders name exists (hidden files, the service's script,
  the reference solution);
- ``leaks``: the image recipe and the starter workspace neither refer to ``hidden/`` or
  ``solution/`` nor carry a copy of a hidden file;
- ``sizes``: the starter fits the submit limit, the hidden material and the brief stay small
  enough to copy into every grading container and page.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Iterator
from pathlib import Path

from pydantic import BaseModel

from prodproven.runner.spec.challenge import Catalog, Challenge
from prodproven.runner.spec.model import shown
from prodproven.runner.spec.prepare import Material
from prodproven.sandbox.untrusted import UntrustedInput, confine

HIDDEN_LIMIT_BYTES = 256 * 2**20
BRIEF_LIMIT_BYTES = 256 * 2**10
_TEXT_LIMIT_BYTES = 2**20
# A tiny file (an empty __init__.py, "{}") is the same everywhere by chance, not by leak.
_COPY_MIN_BYTES = 64
_REFERENCE = re.compile(r"(?<![\w.-])(hidden|solution)/")


def static_problems(
    challenge: Challenge, material: Material, catalog: Catalog, max_workspace_bytes: int
) -> dict[str, list[str]]:
    """Every problem found, by check (``files``, ``leaks``, ``sizes``); empty lists pass."""
    return {
        "files": list(_missing_files(challenge, material, catalog)),
        "leaks": list(_leaks(challenge, material)),
        "sizes": list(_sizes(challenge, material, max_workspace_bytes)),
    }


def hidden_references(model: BaseModel, where: str) -> Iterator[tuple[str, str]]:
    """(field path, value) of every parameter marked ``HIDDEN_FILE``, nested models included."""
    for name, info in type(model).model_fields.items():
        value = getattr(model, name)
        here = f"{where}.{name}"
        extra = info.json_schema_extra
        if isinstance(extra, dict) and extra.get("hidden_file") and isinstance(value, str):
            yield here, value
        elif isinstance(value, BaseModel):
            yield from hidden_references(value, here)
        elif isinstance(value, list | tuple):
            for index, item in enumerate(value):
                if isinstance(item, BaseModel):
                    yield from hidden_references(item, f"{here}.{index}")


def _missing_files(challenge: Challenge, material: Material, catalog: Catalog) -> Iterator[str]:
    spec = challenge.spec
    references: list[tuple[str, str]] = []
    for index, grader in enumerate(spec.graders):
        params = catalog.grader_params[grader.kind].model_validate(grader.params)
        references += hidden_references(params, f"graders.{index}.params")
    if spec.probe is not None:
        references.append(("probe.canaries", spec.probe.canaries))
    for where, rel in references:
        try:
            found = any(confine(root, rel, what=where).exists() for root in material.hidden)
        except UntrustedInput as exc:
            yield f"{exc} (a hidden file is a path inside hidden/)"
            continue
        if not found:
            yield f"{where}: the hidden file {shown(rel)} is not in the (generated) hidden material"
    if not challenge.path("solution").is_dir():
        yield "solution/: missing; the reference check needs a reference solution"
    if spec.service is not None:
        for arg in spec.service.command:
            rel = arg.removeprefix("/workspace/")
            if rel != arg and not any(_is_file(root, rel) for root in material.workspace):
                yield f"service.command: {arg} is not in the starter workspace"


def _is_file(root: Path, rel: str) -> bool:
    """Whether ``rel`` is a file inside ``root`` (a path leading out is not)."""
    try:
        return confine(root, rel, what=rel).is_file()
    except UntrustedInput:
        return False


def _files(roots: Iterable[Path]) -> Iterator[Path]:
    for root in roots:
        if root.is_dir():
            yield from (p for p in sorted(root.rglob("*")) if p.is_file() and not p.is_symlink())


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _leaks(challenge: Challenge, material: Material) -> Iterator[str]:
    recipe = challenge.path(challenge.spec.image.recipe)
    visible = [*_files([recipe]), *_files(material.workspace)]
    for path in visible:
        if path.stat().st_size > _TEXT_LIMIT_BYTES:
            continue
        try:
            lines = path.read_text().splitlines()
        except UnicodeDecodeError:
            continue
        for number, line in enumerate(lines, start=1):
            match = _REFERENCE.search(line)
            if match:
                where = f"{_shown(challenge, path)}:{number}"
                yield f"{where} refers to {match.group(0)}: {line.strip()}"
    hidden = {_digest(p): p for p in _files(material.hidden) if p.stat().st_size >= _COPY_MIN_BYTES}
    for path in visible:
        if path.stat().st_size >= _COPY_MIN_BYTES:
            copy = hidden.get(_digest(path))
            if copy is not None:
                shown = _shown(challenge, path)
                yield f"{shown} is a copy of the hidden file {_shown(challenge, copy)}"


def _sizes(challenge: Challenge, material: Material, max_workspace_bytes: int) -> Iterator[str]:
    limits = (
        ("the starter workspace", material.workspace, max_workspace_bytes, "the submit limit"),
        ("the hidden material", material.hidden, HIDDEN_LIMIT_BYTES, "the hidden limit"),
    )
    for what, roots, limit, name in limits:
        total = sum(p.stat().st_size for p in _files(roots))
        if total > limit:
            yield f"{what} is {_mib(total)}, over {name} of {_mib(limit)}"
    brief = challenge.path("brief.md").stat().st_size
    if brief > BRIEF_LIMIT_BYTES:
        yield f"brief.md is {brief // 1024} KiB, over {BRIEF_LIMIT_BYTES // 1024} KiB"


def _mib(size: int) -> str:
    return f"{size / 2**20:.1f} MiB"


def _shown(challenge: Challenge, path: Path) -> str:
    """``path`` relative to the challenge folder, or as generated material under its part."""
    if path.is_relative_to(challenge.root):
        return path.relative_to(challenge.root).as_posix()
    parts = path.parts
    for part in ("workspace", "hidden"):
        if part in parts:
            index = len(parts) - 1 - parts[::-1].index(part)
            return f"(generated) {'/'.join(parts[index:])}"
    return str(path)
