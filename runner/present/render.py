"""Templates and the helpers they use, shared by the web app and the standalone HTML report."""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from datetime import datetime
from importlib import resources
from typing import Any

import jinja2
import nbformat
from markdown_it import MarkdownIt
from markupsafe import Markup

from prodproven.runner.present import verdict
from prodproven.runner.spec.parts import about_competency

_markdown = MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table")


def markdown(text: str) -> Markup:
    """CommonMark to HTML; raw HTML in the source is escaped, never passed through."""
    return Markup(_markdown.render(text))


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    seconds = int(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def when(value: datetime | str | None) -> str:
    if value is None:
        return "–"
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return f"{value:%Y-%m-%d %H:%M:%S} UTC"


def score(value: float | None) -> str:
    return "–" if value is None else f"{value:.1f}"


def pretty(value: Any) -> str:
    return json.dumps(value, indent=2, default=str, sort_keys=True)


@dataclass(frozen=True)
class NotebookCell:
    kind: str
    source: str
    outputs: list[str]


def notebook_cells(raw: bytes) -> list[NotebookCell]:
    """The cells of a notebook as text (outputs: text streams and text/plain results only,
    never the candidate's HTML or scripts). Raises ValueError for an unreadable notebook."""
    try:
        notebook = nbformat.reads(raw.decode("utf-8"), as_version=4)
    except Exception as exc:  # nbformat raises many unrelated types for bad input
        raise ValueError(f"not a readable notebook: {exc}") from None
    cells = []
    for cell in notebook.cells:
        outputs = []
        for output in cell.get("outputs", []):
            if output.get("output_type") == "stream":
                outputs.append(str(output.get("text", "")))
            elif output.get("output_type") == "error":
                outputs.append(f"{output.get('ename')}: {output.get('evalue')}")
            elif "data" in output and "text/plain" in output["data"]:
                outputs.append(str(output["data"]["text/plain"]))
        cells.append(NotebookCell(cell.cell_type, str(cell.source), outputs))
    return cells


@functools.cache
def environment() -> jinja2.Environment:
    """The one template environment (templates are compiled once per process)."""
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("prodproven.runner.present", "templates"),
        autoescape=jinja2.select_autoescape(["html"], default=True),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(markdown=markdown, duration=duration, when=when, score=score, pretty=pretty)
    env.globals["inline_css"] = lambda: Markup(stylesheet())
    env.globals["verdict"] = verdict.of
    env.globals["run_verdict"] = verdict.of_run
    env.globals["about_competency"] = about_competency
    return env


def stylesheet() -> str:
    return resources.files("prodproven.runner.present").joinpath("static/app.css").read_text()
