"""The run detail as one self-contained HTML file (styles inline, plots as inline SVG, no
scripts), to attach to a hiring packet: ``prodproven report RUN --out report.html``."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from prodproven.runner.errors import ProdprovenError
from prodproven.runner.portal.core import RunDetail
from prodproven.runner.runs.archives import read_member
from prodproven.runner.web.render import NotebookCell, environment, notebook_cells

NOTEBOOK_BYTES = 4 * 2**20


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
