"""What every command of the CLI shares: the settings-backed context, progress lines on
stderr, and printing a result for people or, with ``--json``, for scripts.

Text that comes from people, candidates, challenges or errors is printed as rich ``Text``
(:func:`plain`), never as a markup string: ``[bold]`` in a name is shown, not obeyed."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
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
        return Store(self.settings.store_url)

    def portal(self) -> Portal:
        return Portal(self.settings, self.store(), self.runner)

    def challenge(self, ref: str) -> Challenge:
        return find_challenge(ref, self.settings.challenge_dirs, plugins.catalog())


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
