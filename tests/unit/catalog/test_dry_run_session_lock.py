"""A dry run's session must not hold SQLite's write lock before its handler writes: the session is opened in the
dependency's thread, and a lock held there while the handler waits for a pool thread — which other writers hold
while waiting for that lock — stalled the whole service (found by fuzzing through the façade in canary)."""
from __future__ import annotations

import sqlite3
from pathlib import Path

from sqlalchemy import text

from new_services.common.db import Database


def _other_writer_can_lock(db_file: Path) -> bool:
    other = sqlite3.connect(db_file, timeout=0.1, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        other.execute("ROLLBACK")
        return True
    except sqlite3.OperationalError:
        return False
    finally:
        other.close()


def test_an_open_dry_run_session_leaves_the_write_lock_free_until_it_writes(tmp_path: Path) -> None:
    db_file = tmp_path / "svc.db"
    database = Database(f"sqlite:///{db_file}", busy_timeout_ms=100)
    with database.engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)"))
    try:
        with database.session(dry_run=True, write=True) as session:
            assert _other_writer_can_lock(db_file)  # opened, nothing written: the lock is still free
            session.execute(text("INSERT INTO t (v) VALUES ('x')"))
            session.commit()  # a savepoint release inside the dry run's outer transaction
            assert not _other_writer_can_lock(db_file)  # now the dry run holds it, as any writer would
        assert _other_writer_can_lock(db_file)
        with database.engine.connect() as conn:
            assert conn.execute(text("SELECT COUNT(*) FROM t")).scalar() == 0  # rolled back
    finally:
        database.dispose()
