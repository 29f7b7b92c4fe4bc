"""Opening the store's SQLite file: a new store is whole from the moment it exists, what is
not a store is refused and never replaced, another process holding the store is a clear
"busy" after the wait, and no error text carries the values written (SQL parameters)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
import sqlalchemy

from prodproven.runner.errors import StoreError
from prodproven.runner.runs.store import RunRow, Store, utcnow

EMAIL = "ada@example.com"


def url(path: Path) -> str:
    return f"sqlite:///{path}"


def test_a_new_store_file_is_an_sqlite_database_from_the_start(tmp_path: Path) -> None:
    Store(url(tmp_path / "prodproven.db"))
    assert (tmp_path / "prodproven.db").read_bytes().startswith(b"SQLite format 3\x00")
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".new-")] == []


def test_an_empty_store_file_is_refused_and_left_as_it_is(tmp_path: Path) -> None:
    (tmp_path / "prodproven.db").touch()
    with pytest.raises(StoreError, match=r"is empty \(0 bytes\).*restore it from a backup"):
        Store(url(tmp_path / "prodproven.db"))
    assert (tmp_path / "prodproven.db").stat().st_size == 0


def test_a_file_that_is_not_a_database_is_refused_when_it_is_read(tmp_path: Path) -> None:
    (tmp_path / "prodproven.db").write_text("a spreadsheet saved over the store\n" * 200)
    with pytest.raises(StoreError, match="is damaged or not a prodproven store"):
        Store(url(tmp_path / "prodproven.db"))


def test_a_folder_at_the_store_path_is_refused(tmp_path: Path) -> None:
    (tmp_path / "prodproven.db").mkdir()
    with pytest.raises(StoreError, match="is a folder, not a database file"):
        Store(url(tmp_path / "prodproven.db"))


def add_run_of(store: Store, candidate: str) -> None:
    with store.session() as s:
        s.add(
            RunRow(
                id="r1", challenge_id="c", challenge_version="1", challenge_path="/c",
                candidate=candidate, mode="scripted", status="created", created_at=utcnow(),
            )
        )  # fmt: skip


def test_a_store_held_past_its_busy_timeout_is_busy_and_the_error_holds_no_value(
    tmp_path: Path,
) -> None:
    store = Store(url(tmp_path / "prodproven.db"), busy_seconds=0.1)
    holder = sqlite3.connect(tmp_path / "prodproven.db")
    holder.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(StoreError) as busy:
            add_run_of(store, EMAIL)
    finally:
        holder.rollback()
        holder.close()
    assert "is busy: another prodproven process holds it (waited 0.1 s" in str(busy.value)
    assert EMAIL not in f"{busy.value} {busy.value.__cause__} {busy.value.__context__}"
    add_run_of(store, EMAIL)  # the store is usable again once released


def test_sql_parameters_never_appear_in_store_errors(store: Store) -> None:
    add_run_of(store, EMAIL)
    with pytest.raises(sqlalchemy.exc.IntegrityError) as clash:
        add_run_of(store, EMAIL)
    assert "unique" in str(clash.value).lower() and EMAIL not in str(clash.value)
