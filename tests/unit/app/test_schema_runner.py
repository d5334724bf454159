"""The runner's standard-library parts, on real SQLite files in tmp_path: what it reads of
a shipped file (read-only), how it moves it aside in the container, and table naming."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from imagecheck.app.schema_runner import full, sqlite_aside, sqlite_tables, sqlite_versions


def _db(path: Path) -> None:
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, title TEXT)")
        db.execute("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL)")
        db.execute("INSERT INTO alembic_version VALUES ('n1')")
        db.execute('CREATE VIEW "odd ""name""" AS SELECT title FROM notes')
    db.close()


def test_a_shipped_file_is_read_read_only(tmp_path: Path) -> None:
    path = tmp_path / "notes.db"
    _db(path)
    before = path.read_bytes()
    assert sqlite_tables(str(path)) == {
        "alembic_version": ["version_num"],
        "notes": ["id", "title"],
        'odd "name"': ["title"],
    }
    assert sqlite_versions(str(path), "alembic_version") == ["n1"]
    assert sqlite_versions(str(path), "schema_versions") is None
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.db"]  # no journal left


def test_the_shipped_file_is_moved_aside_with_its_side_files(tmp_path: Path) -> None:
    path = tmp_path / "notes.db"
    _db(path)
    (tmp_path / "notes.db-wal").write_bytes(b"")
    records: list[dict[str, Any]] = []
    ready, aside = sqlite_aside(str(path), records.append)
    assert (ready, aside) == (True, f"{path}.imagecheck-shipped")
    assert not path.exists()
    assert (tmp_path / "notes.db.imagecheck-shipped-wal").exists()
    assert records[0]["shipped"] is True
    assert records[0]["tables"]["notes"] == ["id", "title"]


def test_no_file_is_a_fresh_start_and_a_bad_one_an_error(tmp_path: Path) -> None:
    records: list[dict[str, Any]] = []
    assert sqlite_aside(str(tmp_path / "none.db"), records.append) == (True, None)
    assert records == [{"kind": "sqlite", "path": str(tmp_path / "none.db"), "shipped": False}]
    bad = tmp_path / "bad.db"
    bad.write_bytes(b"not a database, just bytes " * 100)
    records.clear()
    assert sqlite_aside(str(bad), records.append) == (False, None)
    assert records[0]["kind"] == "error"
    assert records[0]["stage"] == "sqlite"
    assert "file is not a database" in records[0]["error"]
    assert bad.exists()  # left where it was


def test_tables_of_the_default_schema_are_named_bare() -> None:
    assert full("billing", "invoice", "public") == "billing.invoice"
    assert full("public", "users", "public") == "users"
    assert full(None, "users", "app") == "users"
    assert full("main", "notes", "main") == "notes"
