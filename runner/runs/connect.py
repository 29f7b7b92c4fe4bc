"""Connecting to the store's database server (PostgreSQL, or any SQLAlchemy URL but SQLite's,
whose file ``storefile`` checks): a missing driver and a server that cannot be reached become
one :class:`StoreError` naming what to install or which host and port failed; the URL's
password never appears.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import create_engine
from sqlalchemy.engine import URL, Engine, ExceptionContext
from sqlalchemy.exc import NoSuchModuleError, OperationalError

from prodproven.runner.errors import StoreError

EXTRA = "prodproven[postgresql]"


def engine(url: URL, connect_args: dict[str, Any]) -> Engine:
    """An engine for ``url``. Raises StoreError when its driver is not installed."""
    try:
        made = create_engine(url, hide_parameters=True, connect_args=connect_args)
    except (NoSuchModuleError, ModuleNotFoundError) as exc:
        raise StoreError(
            f"the store's URL scheme {url.drivername!r} needs a database driver that is not "
            f"installed ({exc}); for PostgreSQL (postgresql+psycopg://...) install the extra: "
            f"pip install '{EXTRA}'"
        ) from None
    return made


@dataclass(frozen=True)
class Unreachable:
    """The engine's ``handle_error`` listener for a store on a server: a connection refused,
    lost or rejected (wrong password, no such database) says which server."""

    url: URL

    def __call__(self, context: ExceptionContext) -> None:
        if not isinstance(context.sqlalchemy_exception, OperationalError):
            return
        if context.connection is not None and not context.is_disconnect:
            return  # a statement failed on a live connection: not the server's absence
        where = f"{self.url.host or 'localhost'}:{self.url.port or 5432}"
        reason = str(context.original_exception).strip().splitlines()[0]
        raise StoreError(
            f"the store's database server at {where} (database {self.url.database!r}, user "
            f"{self.url.username!r}) cannot be reached: {reason}; check that it runs and "
            "accepts this user (PRODPROVEN_DATABASE_URL)"
        )
