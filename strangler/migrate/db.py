"""Database plumbing shared by backfill, verify, capture and sync: engines, reflection, upserts, and the
kit's own bookkeeping tables (which live next to the data they describe, so they commit with it).

Why BEGIN IMMEDIATE on SQLite writers: a migration write transaction first reads the source, then writes the
target; taking the target's write lock up front serialises every writer of the same feature (backfill,
sync, a second sync) so a slower writer can never overwrite a newer row with an older read. PostgreSQL gets
the same guarantee from a transaction-scoped advisory lock per feature (`lock_feature`).
"""
from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    Engine,
    Float,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    event,
    inspect,
    text,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.sql.dml import Insert

WRITE_OPTION = "strangler_write"
CHANGES_TABLE = "_STRANGLER_CHANGES"


class MigrationError(RuntimeError):
    """The migration cannot run (missing table, unsupported database); the message says how to fix it."""


# --- bookkeeping tables -----------------------------------------------------------------------------------
BOOKKEEPING = MetaData()
checkpoints = Table(
    "_strangler_checkpoint", BOOKKEEPING,
    Column("feature", String(64), primary_key=True), Column("table_name", String(128), primary_key=True),
    Column("last_key", Text), Column("rows_read", BigInteger, default=0), Column("rows_written", BigInteger, default=0),
    Column("rows_failed", BigInteger, default=0), Column("total", BigInteger), Column("started_at", String(40)),
    Column("completed_at", String(40)), Column("updated_at", String(40)))
quarantine = Table(
    "_strangler_quarantine", BOOKKEEPING,
    Column("feature", String(64), primary_key=True), Column("table_name", String(128), primary_key=True),
    Column("row_key", String(400), primary_key=True), Column("reason", Text), Column("raw_row", Text),
    Column("first_seen", String(40)), Column("last_seen", String(40)))
sync_state = Table(
    "_strangler_sync", BOOKKEEPING,
    Column("feature", String(64), primary_key=True), Column("direction", String(10), primary_key=True),
    Column("applied_seq", BigInteger, default=0), Column("applied_count", BigInteger, default=0),
    Column("updated_at", String(40)))
applying = Table("_strangler_applying", BOOKKEEPING, Column("id", Integer, primary_key=True, autoincrement=False))
changes = Table(
    CHANGES_TABLE, BOOKKEEPING,
    Column("seq", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("table_name", String(128), nullable=False), Column("row_key", Text, nullable=False),
    Column("op", String(1), nullable=False), Column("captured_at", Float, nullable=False),
    quote=False, sqlite_autoincrement=True)


def ensure_bookkeeping(engine: Engine) -> None:
    BOOKKEEPING.create_all(engine, tables=[checkpoints, quarantine, sync_state, applying])


def ensure_changes(engine: Engine) -> None:
    BOOKKEEPING.create_all(engine, tables=[changes, applying])


def has_table(engine: Engine, name: str) -> bool:
    return any(n.lower() == name.lower() for n in inspect(engine).get_table_names())


# --- engines ----------------------------------------------------------------------------------------------
def _sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None  # we emit BEGIN ourselves (savepoints work, IMMEDIATE possible)
    cursor = dbapi_connection.cursor()
    for pragma in ("busy_timeout=30000", "foreign_keys=ON"):
        cursor.execute(f"PRAGMA {pragma}")
    cursor.close()


def _sqlite_begin(connection: Any) -> None:
    immediate = connection.get_execution_options().get(WRITE_OPTION, False)
    connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def open_engine(url: str) -> Engine:
    """Engine for a migration endpoint; a SQLite file gets its folder, a busy timeout and foreign keys on."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return create_engine(url, pool_pre_ping=True)
    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"timeout": 30})
    event.listen(engine, "connect", _sqlite_connect)
    event.listen(engine, "begin", _sqlite_begin)
    return engine


def writer(engine: Engine) -> Engine:
    """Same pool; on SQLite its transactions take the write lock up front (BEGIN IMMEDIATE)."""
    return engine.execution_options(**{WRITE_OPTION: True})


def lock_feature(conn: Connection, feature: str) -> None:
    """Serialise the writers of one feature on PostgreSQL (SQLite: BEGIN IMMEDIATE already did)."""
    if conn.dialect.name == "postgresql":
        number = int.from_bytes(hashlib.sha256(f"strangler:{feature}".encode()).digest()[:8], "big", signed=True)
        conn.execute(text("SELECT pg_advisory_xact_lock(:n)"), {"n": number})


def mark_applying(conn: Connection) -> None:
    """Tell this database's capture triggers that the current transaction is the kit's own (no echo)."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT set_config('strangler.applying', 'on', true)"))
    else:
        conn.execute(applying.insert().values(id=1))


def unmark_applying(conn: Connection) -> None:
    if conn.dialect.name != "postgresql":
        conn.execute(applying.delete())


# --- reflection and statements ----------------------------------------------------------------------------
def reflect_table(engine: Engine, name: str) -> Table:
    """A table found case-insensitively (unquoted upper-case names fold to lower on PostgreSQL)."""
    names = inspect(engine).get_table_names()
    match = next((n for n in names if n == name), None) or next((n for n in names if n.lower() == name.lower()),
                                                                None)
    if match is None:
        raise MigrationError(f"table {name} not found in {engine.url.render_as_string(hide_password=True)}"
                             f" (tables: {', '.join(sorted(names)) or 'none'}); check the database URL")
    return Table(match, MetaData(), autoload_with=engine)


def find_columns(table: Table, names: Sequence[str]) -> list[Column]:
    by_name = {c.name.lower(): c for c in table.columns}
    missing = [n for n in names if n.lower() not in by_name]
    if missing:
        raise MigrationError(f"column(s) {', '.join(missing)} not found in {table.name} "
                             f"(columns: {', '.join(c.name for c in table.columns)})")
    return [by_name[n.lower()] for n in names]


def keyset_columns(table: Table, declared: Sequence[str]) -> list[Column]:
    """The declared key, widened to the primary key when it is a strict prefix of it (e.g. ORD_ID of
    (ORD_ID, LN_NO)): keyset pagination needs a unique key or rows at a batch boundary would be skipped."""
    columns = find_columns(table, declared)
    pk = list(table.primary_key.columns)
    if len(pk) > len(columns) and [c.name for c in pk[:len(columns)]] == [c.name for c in columns]:
        return pk
    return columns


def dialect_insert(engine: Engine | Connection, target: Table) -> Any:
    """The dialect's INSERT construct (the one with ON CONFLICT support)."""
    dialects = {"sqlite": sqlite.insert, "postgresql": postgresql.insert}
    insert = dialects.get(engine.dialect.name)
    if insert is None:
        raise MigrationError(f"upserts are implemented for SQLite and PostgreSQL, not {engine.dialect.name}")
    return insert(target)


def upsert_statement(engine: Engine | Connection, target: Table, conflict_key: Sequence[str]) -> Insert:
    """INSERT … ON CONFLICT (key) DO UPDATE SET every other column = excluded value."""
    statement = dialect_insert(engine, target)
    updates = {c.name: statement.excluded[c.name] for c in target.columns if c.name not in conflict_key}
    if not updates:
        return statement.on_conflict_do_nothing(index_elements=list(conflict_key))
    return statement.on_conflict_do_update(index_elements=list(conflict_key), set_=updates)


#: Table.info key: ids at or above it belong to the service's own range (set on legacy tables written by
#: reverse sync), so legacy's sequence must never be moved past them
ID_CEILING_INFO = "strangler_id_ceiling"


def reset_sequence(engine: Engine, target: Table) -> None:
    """PostgreSQL: after inserting explicit ids, move the serial sequence past the largest one — the largest
    below `target.info[ID_CEILING_INFO]` when set, so legacy's next id stays below the service's range."""
    pk = list(target.primary_key.columns)
    if engine.dialect.name != "postgresql" or len(pk) != 1 or pk[0].type.python_type is not int:
        return
    quote = engine.dialect.identifier_preparer.quote
    table, column = quote(target.name), quote(pk[0].name)
    ceiling = target.info.get(ID_CEILING_INFO)
    below = "" if ceiling is None else f" WHERE {column} < {int(ceiling)}"
    with engine.begin() as conn:
        sequence = conn.execute(text("SELECT pg_get_serial_sequence(:t, :c)"),
                                {"t": target.name, "c": pk[0].name}).scalar()
        if sequence:
            conn.execute(text(f"SELECT setval(:s, COALESCE((SELECT MAX({column}) FROM {table}{below}), 0) + 1, "
                              "false)"), {"s": sequence})
