"""The one logging configuration of prodproven. The CLI (each command, and so each run's
supervisor process, ``prodproven supervise``) and the web app write the records of the
``prodproven`` loggers to ``<data>/logs/prodproven.log``, rotated by size, at the level of the
``log_level`` setting. Modules log with ``logging.getLogger(__name__)``."""

from __future__ import annotations

import logging
from logging.handlers import RotatingFileHandler
from pathlib import Path

from prodproven.runner.config import Settings

ROOT_LOGGER = "prodproven"
FORMAT = "%(asctime)s %(levelname)s [%(process)d] %(name)s: %(message)s"
MAX_BYTES = 10 * 2**20
BACKUPS = 5
_HANDLER = "prodproven-file"
logging.getLogger(ROOT_LOGGER).addHandler(logging.NullHandler())
"""Until :func:`configure` runs (or when it cannot), records go nowhere rather than to
stderr, where the CLI already prints each error once."""


def log_file(settings: Settings) -> Path:
    return settings.data_dir / "logs" / "prodproven.log"


def configure(settings: Settings) -> Path:
    """Send the ``prodproven`` loggers' records to the log file of ``settings``' data
    directory at ``settings.log_level``; returns the file. Called again (other settings, say
    in tests), it replaces the file handler it added before."""
    path = log_file(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    logger = logging.getLogger(ROOT_LOGGER)
    for old in [h for h in logger.handlers if h.get_name() == _HANDLER]:
        logger.removeHandler(old)
        old.close()
    handler = RotatingFileHandler(path, maxBytes=MAX_BYTES, backupCount=BACKUPS, encoding="utf-8")
    handler.set_name(_HANDLER)
    handler.setFormatter(logging.Formatter(FORMAT))
    logger.addHandler(handler)
    logger.setLevel(settings.log_level)
    return path
