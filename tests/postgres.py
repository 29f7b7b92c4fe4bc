"""A throwaway PostgreSQL server for the tests: Debian's binaries (``apt-get install
postgresql``; infra/dev.sh test installs them), a data directory in a temporary folder,
fsync off, listening on 127.0.0.1 on a free port and on a socket in that folder. Each test
gets a fresh database copied from a template already migrated (``CREATE DATABASE ... TEMPLATE``
copies files: faster than migrating every database).

``PRODPROVEN_TEST_POSTGRES_URL`` (a URL to a server's maintenance database, by a user who may
create databases) uses that server instead of starting one.
"""

from __future__ import annotations

import itertools
import os
import secrets
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL, make_url

from prodproven.runner.runs.store import Store
from tests.conftest import free_port

URL_VARIABLE = "PRODPROVEN_TEST_POSTGRES_URL"
BINARIES = Path("/usr/lib/postgresql")
TEMPLATE = "prodproven_template"
PREFIX = "prodproven-postgres-"
OWNER = "owner.pid"
"""The test process that started the server in that folder."""


def binaries() -> Path:
    """The newest installed PostgreSQL's bin folder; fails the test without one."""
    found = sorted(BINARIES.glob("*/bin/pg_ctl"), key=lambda p: int(p.parent.parent.name))
    if not found:
        pytest.fail(
            f"PostgreSQL is not installed (no {BINARIES}/*/bin/pg_ctl): apt-get install "
            f"postgresql, or set {URL_VARIABLE} to a server's URL"
        )
    return found[-1].parent


@dataclass
class Server:
    """A PostgreSQL server the tests may create databases on; ``admin`` is a URL to its
    maintenance database."""

    admin: URL
    _names: Iterator[int] = field(default_factory=itertools.count)

    def __post_init__(self) -> None:
        self._prefix = f"test_{os.getpid()}_{secrets.token_hex(3)}"
        self._template = f"{TEMPLATE}_{self._prefix}"
        self._execute(f'CREATE DATABASE "{self._template}"')
        migrated = Store(self.url(self._template))
        migrated.engine.dispose()

    def url(self, database: str) -> str:
        """A URL to ``database`` on this server, password included."""
        return self.admin.set(database=database).render_as_string(hide_password=False)

    @contextmanager
    def database(self, *, migrated: bool = True) -> Iterator[str]:
        """A new database with the store's tables (empty; none unless ``migrated``), dropped
        afterwards, whoever still holds a connection to it."""
        name = f"{self._prefix}_{next(self._names)}"
        template = self._template if migrated else "template0"
        self._execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
        try:
            yield self.url(name)
        finally:
            self._execute(f'DROP DATABASE "{name}" WITH (FORCE)')

    def close(self) -> None:
        self._execute(f'DROP DATABASE "{self._template}" WITH (FORCE)')

    def _execute(self, statement: str) -> None:
        engine = create_engine(self.admin, isolation_level="AUTOCOMMIT")
        try:
            with engine.connect() as connection:
                connection.execute(text(statement))
        finally:
            engine.dispose()


@contextmanager
def server() -> Iterator[Server]:
    """The server of ``PRODPROVEN_TEST_POSTGRES_URL``, else a throwaway one."""
    given = os.environ.get(URL_VARIABLE)
    if given:
        found = Server(make_url(given))
        try:
            yield found
        finally:
            found.close()
        return
    with _throwaway() as admin:
        yield Server(admin)


@contextmanager
def _throwaway() -> Iterator[URL]:
    bin_dir = binaries()
    _remove_abandoned(bin_dir)
    folder = Path(tempfile.mkdtemp(prefix=PREFIX))
    (folder / OWNER).write_text(str(os.getpid()))
    data = folder / "data"
    port = free_port()
    options = (
        f"-c listen_addresses=127.0.0.1 -p {port} -k {folder} -c fsync=off "
        "-c synchronous_commit=off -c full_page_writes=off"
    )
    try:
        initdb: list[str | Path] = [
            bin_dir / "initdb",
            "-D",
            data,
            "-U",
            "postgres",
            "-A",
            "trust",
            "--no-sync",
        ]
        _as_postgres(folder, initdb)
        ctl: list[str | Path] = [bin_dir / "pg_ctl", "-D", data, "-l", folder / "server.log", "-w"]
        _as_postgres(folder, [*ctl, "-o", options, "start"])
        try:
            yield URL.create(
                "postgresql+psycopg", "postgres", host="127.0.0.1", port=port, database="postgres"
            )
        finally:
            _as_postgres(folder, [*ctl, "-m", "immediate", "stop"])
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _remove_abandoned(bin_dir: Path) -> None:
    """Stop and remove the servers of test processes that were killed before they could."""
    for owner in Path(tempfile.gettempdir()).glob(f"{PREFIX}*/{OWNER}"):
        try:
            os.kill(int(owner.read_text()), 0)
            continue  # its test process still runs
        except ProcessLookupError:
            pass
        except (ValueError, OSError):
            continue
        folder = owner.parent
        if (folder / "data" / "postmaster.pid").exists():
            stop: list[str | Path] = [
                bin_dir / "pg_ctl",
                "-D",
                folder / "data",
                "-m",
                "immediate",
                "stop",
            ]
            _as_postgres(folder, stop)
        shutil.rmtree(folder, ignore_errors=True)


def _as_postgres(folder: Path, command: list[str | Path]) -> None:
    """Run a PostgreSQL program, as the user ``postgres`` when we are root (the server refuses
    to run as root), owning ``folder``."""
    argv = [str(part) for part in command]
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres", "postgres")
        argv = ["runuser", "-u", "postgres", "--", *argv]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)
    if done.returncode != 0:
        log = folder / "server.log"
        tail = log.read_text()[-2000:] if log.exists() else ""
        pytest.fail(f"{' '.join(argv)} failed ({done.returncode}): {done.stderr}{tail}")
