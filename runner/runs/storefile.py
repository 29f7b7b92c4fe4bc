"""Opening the SQLite file of the store: a file found at its path must be an SQLite database
(an empty or foreign file is refused, never silently made a new store), a new one is made
whole before it appears there, and SQLite's own failures (locked past the busy timeout,
damaged, read-only) become one :class:`StoreError` that says what to do.
"""

from __future__ import annotations

import os
import sqlite3
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import ExceptionContext

from prodproven.runner.errors import StoreError

RESTORE = (
    "restore it from a backup (docs/operations.md, 'Backup and restore'), or move it away to "
    "start a new, empty store"
)


def prepare(path: Path) -> None:
    """Refuse a folder or an empty file at ``path`` (SQLite would take an empty file for a new
    database); make a new, empty store there when nothing is (made aside and linked in, so
    another process never sees it half-made). A file that is not an SQLite database is
    refused when it is first read (:class:`Translator`).

    The file is never opened here: closing a descriptor of a database file drops the locks
    every SQLite connection of this process holds on it."""
    try:
        found = path.stat()
    except FileNotFoundError:
        _create(path)
        return
    except OSError as exc:
        raise StoreError(f"the store {path} cannot be read: {exc.strerror or exc}") from None
    if stat.S_ISDIR(found.st_mode):
        raise StoreError(f"the store {path} is a folder, not a database file: move it away")
    if found.st_size == 0:
        raise StoreError(
            f"the store {path} is empty (0 bytes), so it is not a prodproven store: {RESTORE}"
        )


def _create(path: Path) -> None:
    try:
        fd, name = tempfile.mkstemp(prefix=".new-", suffix=".db", dir=path.parent)
    except OSError as exc:
        raise StoreError(f"the store {path} cannot be created: {exc.strerror or exc}") from None
    os.close(fd)
    try:
        with sqlite3.connect(name) as made:
            made.execute("PRAGMA journal_mode=WAL")
        made.close()
        os.link(name, path)
    except FileExistsError:
        pass  # another process made it meanwhile: theirs is the store
    except (OSError, sqlite3.Error) as exc:
        raise StoreError(f"the store {path} cannot be created: {exc}") from None
    finally:
        os.unlink(name)


@dataclass(frozen=True)
class Translator:
    """The engine's ``handle_error`` listener for a SQLite store at ``path``."""

    path: Path
    busy_seconds: float

    def __call__(self, context: ExceptionContext) -> None:
        error = context.original_exception
        if not isinstance(error, sqlite3.Error):
            return
        text = str(error)
        if "locked" in text:
            raise StoreError(
                f"the store {self.path} is busy: another prodproven process holds it (waited "
                f"{self.busy_seconds:g} s, PRODPROVEN_STORE_BUSY_SECONDS); try again"
            )
        if "not a database" in text or "malformed" in text:
            raise StoreError(
                f"the store {self.path} is damaged or not a prodproven store ({text}): {RESTORE}"
            )
        if "readonly" in text or "unable to open" in text:
            raise StoreError(
                f"the store {self.path} cannot be written ({text}): prodproven needs to write "
                "it and its folder"
            )
