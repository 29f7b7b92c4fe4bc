"""The marker plugin modules implement prodproven's hooks with, built-ins and third parties alike.

The hooks themselves are specified in ``prodproven.runner.hookspecs`` (and documented in
docs/plugins.md). The marker lives in the lowest layer so that ``sandbox`` and ``graders``
register their built-ins through the same hooks as everyone else without importing ``runner``.
"""

from __future__ import annotations

import pluggy

PROJECT = "prodproven"
"""The pluggy project name every hook specification and implementation is marked with."""

hookimpl = pluggy.HookimplMarker(PROJECT)
