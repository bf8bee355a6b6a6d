"""A dry run's session takes SQLite's write lock when a real write would — at its first statement, not when it is
opened (a lock held while a handler makes its calls first, or, with a session dependency, while it waited for a
pool thread, stalled the whole service: found by fuzzing through the façade in canary) — and then queues for it
like a real write instead of failing at once (a deferred BEGIN's upgrade answered "database is locked")."""
from __future__ import annotations

import sqlite3
import threading
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


def test_a_dry_run_write_waits_for_a_real_writer_and_sees_its_commit(tmp_path: Path) -> None:
    """A real writer holds the lock and commits a moment later: the dry run (a read, then a write) waits for it
    within the busy timeout and runs on the committed data. With a deferred BEGIN the read took a snapshot
    first and the write failed with "database is locked" (503 DATABASE_BUSY for a shadow copy)."""
    db_file = tmp_path / "svc.db"
    database = Database(f"sqlite:///{db_file}", busy_timeout_ms=20_000)
    with database.engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)"))
    writer = sqlite3.connect(db_file, isolation_level=None, check_same_thread=False)
    writer.execute("BEGIN IMMEDIATE")
    writer.execute("INSERT INTO t (v) VALUES ('real')")
    commit = threading.Timer(0.3, writer.execute, ("COMMIT",))  # while the dry run waits for the lock
    try:
        with database.session(dry_run=True, write=True) as session:
            commit.start()
            seen = session.execute(text("SELECT COUNT(*) FROM t")).scalar()
            session.execute(text("INSERT INTO t (v) VALUES ('dry')"))
            session.commit()
            assert seen == 1  # it began after the real write's commit
        with database.engine.connect() as conn:
            assert conn.execute(text("SELECT v FROM t")).scalars().all() == ["real"]  # the dry run rolled back
    finally:
        commit.join(30)
        writer.close()
        database.dispose()


def test_a_dry_run_that_ran_no_sql_leaves_its_connection_owing_nothing(tmp_path: Path) -> None:
    """The dry run's BEGIN IMMEDIATE is owed until its first statement; one that never ran any must not pass the
    debt to the next request that gets its pooled connection (a read would then take the write lock)."""
    db_file = tmp_path / "svc.db"
    database = Database(f"sqlite:///{db_file}", busy_timeout_ms=100)
    with database.engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)"))
    try:
        with database.session(dry_run=True, write=True):
            pass  # refused before any SQL, say (a validation error)
        with database.session(write=False) as session:
            session.execute(text("SELECT COUNT(*) FROM t"))
            assert _other_writer_can_lock(db_file)  # the read took no write lock
    finally:
        database.dispose()
