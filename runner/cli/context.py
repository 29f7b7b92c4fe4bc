"""What every command of the CLI shares: the settings-backed context, progress lines on
stderr, and printing a result for people or, with ``--json``, for scripts.

Text that comes from people, candidates, challenges or errors is printed as rich ``Text``
(:func:`plain`), never as a markup string: ``[bold]`` in a name is shown, not obeyed."""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.text import Text

from prodproven.runner import plugins
from prodproven.runner.config import Settings
from prodproven.runner.grading.result import RunResult
from prodproven.runner.lifecycle.core import Runner
from prodproven.runner.portal.core import Portal
from prodproven.runner.present.console import render
from prodproven.runner.runs.store import Store
from prodproven.runner.spec.challenge import Challenge, find_challenge
from prodproven.sandbox.docker_backend import connect
from prodproven.sandbox.images import ImageBuilder

out = Console()
err = Console(stderr=True)
log = logging.getLogger(__name__)


def plain(*cells: str) -> list[Text]:
    """Table cells shown as they are: no markup, no emoji codes."""
    return [Text(cell) for cell in cells]


@dataclass
class Context:
    settings: Settings
    json: bool = False

    def runner(self, progress: Callable[[str], None]) -> Runner:
        client = connect()
        self.settings.data_dir.mkdir(parents=True, exist_ok=True)
        images = ImageBuilder(client, self.settings.images(), log=progress)
        pod_image = images.runtime()
        backend = plugins.plugin_manager().hook.sandbox_backend(
            settings=self.settings, pod_image=pod_image
        )
        return Runner(
            self.settings,
            self.store(),
            backend,
            images,
            plugins.catalog(),
            plugins.graders(),
            report=progress,
        )

    def store(self) -> Store:
        self.settings.data_dir.mkdir(parents=True, exist_ok=True)
        return Store(self.settings.store_url, busy_seconds=self.settings.store_busy_seconds)

    def portal(self) -> Portal:
        return Portal(self.settings, self.store(), self.runner)

    def challenge(self, ref: str) -> Challenge:
        return find_challenge(ref, self.settings.challenge_dirs, plugins.catalog())


ROW_NUMBER = click.IntRange(1, 2**63 - 1)
"""An argument naming a numbered row of the store (SQLite integers are 64-bit)."""


class OutFile(click.Path):
    """A file a command writes: not a folder, and in a folder that exists (a mistyped folder
    is refused, never created on a guess)."""

    def __init__(self) -> None:
        super().__init__(dir_okay=False, path_type=Path)

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        path = Path(os.fsdecode(super().convert(value, param, ctx)))
        folder = path.parent
        if not folder.is_dir():
            problem = "is not a folder" if folder.exists() else "does not exist"
            self.fail(f"folder {click.format_filename(folder)} {problem}", param, ctx)
        return path


def write_out(path: Path, text: str) -> None:
    """Write ``text`` (UTF-8) to the file of an ``--out`` option; a file that cannot be
    written is one message naming it."""
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise click.FileError(click.format_filename(path), hint=exc.strerror or str(exc)) from None


@contextmanager
def progress(quiet: bool = False) -> Iterator[Callable[[str], None]]:
    """A progress line on stderr: each step is printed with its elapsed time when the next
    one starts."""
    started = time.monotonic()
    last: list[tuple[str, float]] = []
    with err.status("starting") as status:

        def step(message: str) -> None:
            now = time.monotonic()
            log.info(message)
            if last and not quiet:
                err.print(_done(*last[0], now))
            last[:] = [(message, now)]
            status.update(Text.assemble(message, (f" · {now - started:.0f}s", "dim")))

        yield step
        if last and not quiet:
            err.print(_done(*last[0], time.monotonic()))


def _done(message: str, since: float, now: float) -> Text:
    return Text.assemble(("✓", "green"), f" {message} ", (f"({now - since:.1f}s)", "dim"))


def emit(ctx: Context, doc: RunResult, **extra: Any) -> None:
    """Print a run's result document: as JSON (with ``extra`` fields) or for people."""
    if ctx.json:
        click.echo(json.dumps({**doc.stored(), **extra}, indent=2, default=str))
    else:
        render(doc, out)
