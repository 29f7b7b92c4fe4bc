"""One variant of the assistant's change: the draw from the seed, and the templates rendered
with it, keeping where each drawn snippet landed so the manifest's line ranges are computed
from the generated text, never typed."""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from pathlib import Path

from catalogue import CLAIM_CODE, DECOYS, DEFECTS, SEVERITIES, SLOTS, Decoy, Defect, Snippet

TEMPLATES = Path(__file__).resolve().parent / "repo"
SUFFIX = ".tmpl"
DEFECTS_PER_VARIANT = 5
MARKER = re.compile(r"^(?P<indent>[ \t]*)@@(?P<name>[a-z-]+)(?: (?P<args>[a-z ]+))?@@$")
FALSE_CLAIMS = (("latency",), ("auc",), ("latency", "auc"))


@dataclass(frozen=True)
class Draw:
    seed: int
    defects: tuple[Defect, ...]
    decoys: tuple[Decoy, ...]
    false_claims: tuple[str, ...]

    def fills(self) -> dict[str, Snippet]:
        """Each slot's snippet in this variant."""
        chosen = {name: slot.correct for name, slot in SLOTS.items()}
        for claim, code in CLAIM_CODE.items():
            chosen.update(code[claim not in self.false_claims])
        chosen.update({decoy.slot: decoy.code for decoy in self.decoys})
        chosen.update({defect.slot: defect.code for defect in self.defects})
        return chosen


def draw(seed: int) -> Draw:
    """Five defects of distinct categories and slots covering every severity, two or three
    decoys, and one or two false claims, all from ``seed``."""
    rng = random.Random(seed)
    while True:
        defects = tuple(rng.sample(DEFECTS, DEFECTS_PER_VARIANT))
        if (
            len({d.category for d in defects}) == DEFECTS_PER_VARIANT
            and len({d.slot for d in defects}) == DEFECTS_PER_VARIANT
            and {d.severity for d in defects} == set(SEVERITIES)
        ):
            break
    decoys = tuple(rng.sample(DECOYS, rng.choice((2, 3))))
    return Draw(seed, defects, decoys, rng.choice(FALSE_CLAIMS))


@dataclass(frozen=True)
class Rendered:
    text: str
    ranges: dict[str, tuple[int, int]]
    """Slot name -> 1-based inclusive line range of its snippet in ``text`` (empty snippets
    are left out)."""


def render(template: str, fills: dict[str, Snippet]) -> Rendered:
    """``template`` with each ``@@slot@@`` line replaced by its snippet (indented like the
    marker) and the ``@@imports NAME...@@`` line by ``import`` lines for NAMEs and for what the
    file's snippets need."""
    lines = template.splitlines()
    used = [fills[m["name"]] for line in lines if (m := MARKER.match(line)) and m["name"] in fills]
    out: list[str] = []
    ranges: dict[str, tuple[int, int]] = {}
    for line in lines:
        match = MARKER.match(line)
        if match is None:
            out.append(line)
            continue
        name, indent = match["name"], match["indent"]
        if name == "imports":
            names = set((match["args"] or "").split()) | {i for s in used for i in s.imports}
            out += [f"{indent}import {module}" for module in sorted(names)]
            continue
        if name not in fills:
            raise KeyError(f"template marker @@{name}@@ names no slot of the catalogue")
        snippet = fills[name].lines
        if snippet:
            ranges[name] = (len(out) + 1, len(out) + len(snippet))
        out += [f"{indent}{part}" if part else "" for part in snippet]
    return Rendered("\n".join(out) + "\n", ranges)


def tree(branch: str) -> dict[str, str]:
    """A branch's template files by repository path (``main`` or ``change``, the latter only
    the files the change touches)."""
    root = TEMPLATES / branch
    return {
        path.relative_to(root).as_posix().removesuffix(SUFFIX): path.read_text()
        for path in sorted(root.rglob("*" + SUFFIX))
    }


def change_files(variant: Draw) -> tuple[dict[str, str], dict[str, tuple[str, tuple[int, int]]]]:
    """The changed files of ai/change, and each filled slot's (file, line range)."""
    fills = variant.fills()
    files: dict[str, str] = {}
    where: dict[str, tuple[str, tuple[int, int]]] = {}
    for path, template in tree("change").items():
        rendered = render(template, fills)
        files[path] = rendered.text
        where.update({slot: (path, lines) for slot, lines in rendered.ranges.items()})
    return files, where
