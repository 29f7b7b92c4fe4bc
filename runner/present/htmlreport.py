"""The run detail as one self-contained HTML file (styles inline, plots as inline SVG, no
scripts), to attach to a hiring packet: ``prodproven report RUN --out report.html``."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from prodproven.runner.errors import ProdprovenError
from prodproven.runner.present.render import NotebookCell, environment, notebook_cells
from prodproven.runner.runs.archives import Entry, read_member
from prodproven.runner.runs.store import Run

NOTEBOOK_BYTES = 4 * 2**20


class RunDetail(Protocol):
    """A run in detail as the portal gathers it (``portal.runs.RunDetail``; ``present`` sits
    below the portal): what the report reads here, and the templates read the rest."""

    @property
    def run(self) -> Run: ...

    @property
    def files(self) -> list[Entry]: ...


@dataclass(frozen=True)
class RenderedNotebook:
    path: str
    cells: list[NotebookCell]
    problem: str | None


def notebooks(detail: RunDetail) -> list[RenderedNotebook]:
    """The notebooks of the submitted workspace, as text cells."""
    if not detail.run.archive_path:
        return []
    found = []
    for entry in detail.files:
        if not entry.path.endswith(".ipynb") or "/.ipynb_checkpoints/" in f"/{entry.path}":
            continue
        try:
            raw = read_member(Path(detail.run.archive_path), entry.path, max_bytes=NOTEBOOK_BYTES)
            found.append(RenderedNotebook(entry.path, notebook_cells(raw), None))
        except (ProdprovenError, ValueError, OSError) as exc:
            found.append(RenderedNotebook(entry.path, [], str(exc)))
    return found


def render_report(detail: RunDetail) -> str:
    return (
        environment()
        .get_template("report.html")
        .render(d=detail, notebooks=notebooks(detail), interactive=False, csrf="", user=None)
    )
