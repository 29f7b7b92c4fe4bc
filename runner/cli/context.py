"""What every command of the CLI shares: the settings-backed context, progress lines on
stderr, and printing a result for people or, with ``--json``, for scripts."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import click
from prodproven.runner import plugins
from prodproven.runner.config import Settings
from prodproven.runner.grading.result import render
from prodproven.runner.portal.core import Portal
from prodproven.runner.runs.lifecycle import Runner
from prodproven.runner.runs.store import Store
from prodproven.runner.spec.challenge import Challenge, find_challenge
from prodproven.sandbox.docker_backend import connect
from prodproven.sandbox.images import ImageBuilder
from rich.console import Console

out = Console()
err = Console(stderr=True)


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
        return Runner(self.settings, self.store(), backend, images, report=progress)

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
            if last and not quiet:
                err.print(f"[green]✓[/green] {last[0][0]} [dim]({now - last[0][1]:.1f}s)[/dim]")
            last[:] = [(message, now)]
            status.update(f"{message} [dim]· {now - started:.0f}s[/dim]")

        yield step
        if last and not quiet:
            err.print(
                f"[green]✓[/green] {last[0][0]} [dim]({time.monotonic() - last[0][1]:.1f}s)[/dim]"
            )


def emit(ctx: Context, doc: dict[str, Any]) -> None:
    if ctx.json:
        click.echo(json.dumps(doc, indent=2, default=str))
    else:
        render(doc, out)
