"""Helpers for tests of plugin loading: installed packages declare graders, cheats and plots as
entry points, which the plugin manager reads once and caches."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from prodproven.runner import plugins


@contextmanager
def plugins_found_afresh() -> Iterator[None]:
    """Inside the block the plugins are looked up again (e.g. after a test declares entry
    points); after it too, so later tests see the real installation."""
    _forget()
    try:
        yield
    finally:
        _forget()


def _forget() -> None:
    plugins.entry_point_graders.cache_clear()
    plugins.entry_point_cheats.cache_clear()
    plugins.entry_point_plots.cache_clear()
    plugins.plugin_manager.cache_clear()


@contextmanager
def plugin_registered(plugin: object) -> Iterator[None]:
    """Inside the block ``plugin`` (an object with hook implementations) is registered, as a
    firm's plugin would be; the plugins are looked up afresh before and after."""
    with plugins_found_afresh():
        plugins.plugin_manager().register(plugin)
        yield
