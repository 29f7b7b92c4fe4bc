"""The matching regions of a pair, side by side: each pair of files with matches, as numbered
lines of the compared text (a notebook's: its code cells joined), the matching ones marked."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from prodproven.runner.similarity import sources
from prodproven.runner.similarity.compare import FileMatch, Pair, Ranges

SHOWN_FILES = 20
"""The most file pairs shown, largest matches first."""
SHOWN_LINES = 2000
"""The most lines shown of one file."""


@dataclass(frozen=True)
class Line:
    number: int
    text: str
    matched: bool


@dataclass(frozen=True)
class Side:
    path: str
    lines: list[Line]
    cut: bool
    """Whether the file has more lines than shown."""


@dataclass(frozen=True)
class SideBySide:
    a: Side
    b: Side


def _side(path: str, text: str, ranges: Ranges) -> Side:
    lines = text.splitlines()
    hit = {n for first, last in ranges for n in range(first, last + 1)}
    shown = [Line(n, line, n in hit) for n, line in enumerate(lines[:SHOWN_LINES], start=1)]
    return Side(path, shown, len(lines) > SHOWN_LINES)


def side_by_side(pair: Pair, archive_a: Path, archive_b: Path) -> list[SideBySide]:
    """The pair's file matches with the files' lines. Raises OSError, TarError."""
    texts_a = {d.path: d.text for d in sources.of_archive(archive_a)}
    texts_b = {d.path: d.text for d in sources.of_archive(archive_b)}
    return [_pane(m, texts_a, texts_b) for m in pair.matches[:SHOWN_FILES]]


def _pane(match: FileMatch, texts_a: dict[str, str], texts_b: dict[str, str]) -> SideBySide:
    return SideBySide(
        _side(match.path_a, texts_a.get(match.path_a, ""), match.lines_a),
        _side(match.path_b, texts_b.get(match.path_b, ""), match.lines_b),
    )
