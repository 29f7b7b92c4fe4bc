"""A store on a database server that cannot be used says why in one StoreError: the driver its
URL names is not installed (and which extra installs it), or the server at a host and port
cannot be reached; the URL's password never appears."""

from __future__ import annotations

import pytest

from prodproven.runner.errors import StoreError
from prodproven.runner.runs.store import Store
from tests import postgres
from tests.conftest import free_port

PASSWORD = "s3cret-pw"


def test_a_url_whose_driver_is_missing_names_the_extra_to_install() -> None:
    with pytest.raises(StoreError) as missing:
        Store(f"postgresql+pg8000://ann:{PASSWORD}@127.0.0.1/prodproven")
    message = str(missing.value)
    assert "'postgresql+pg8000' needs a database driver" in message
    assert "pip install 'prodproven[postgresql]'" in message and PASSWORD not in message


def test_a_server_that_is_down_is_named_by_host_and_port() -> None:
    port = free_port()
    with pytest.raises(StoreError) as down:
        Store(f"postgresql+psycopg://ann:{PASSWORD}@127.0.0.1:{port}/prodproven")
    message = str(down.value)
    assert f"database server at 127.0.0.1:{port} (database 'prodproven', user 'ann')" in message
    assert "cannot be reached" in message and PASSWORD not in message


def test_a_database_the_server_does_not_have_is_named(postgres_server: postgres.Server) -> None:
    with pytest.raises(StoreError, match='cannot be reached: .*database "absent" does not exist'):
        Store(postgres_server.url("absent"))
