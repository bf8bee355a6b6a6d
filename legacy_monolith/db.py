"""The one shared database: a single MetaData/Base every module registers its tables on.

Names are upper-case abbreviations emitted UNQUOTED (quote=False), as in the legacy DDL, so hand-written
`text()` SQL such as `SELECT UNIT_PRC FROM PRODUCTS` works the same on SQLite and PostgreSQL.
SQLite runs in WAL mode with a busy timeout and foreign keys on; write requests open their transaction with
BEGIN IMMEDIATE so two writers queue on the lock instead of failing when one upgrades a read lock.
"""
from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Any, ClassVar, cast

from sqlalchemy import (
    Connection,
    CursorResult,
    Engine,
    MetaData,
    Result,
    Table,
    create_engine,
    event,
    func,
    inspect,
    select,
    text,
)
from sqlalchemy.engine import make_url
from sqlalchemy.orm import DeclarativeBase, mapped_column

DEFAULT_DATABASE_URL = "sqlite:///var/legacy.db"
SQLITE_BUSY_TIMEOUT_MS = 10_000
WRITE_OPTION = "legacy_write"
ID_CEILING_OPTION = "legacy_id_ceiling"
ID_CEILING_ENV = "LEGACY_ID_CEILING"
#: the monolith's own ids (ProductId, OrderId) stay below this: the services' default *_ID_START (own_ids_below_ceiling)
DEFAULT_ID_CEILING = 10_000_000


class Base(DeclarativeBase):
    metadata = MetaData()
    __table__: ClassVar[Table]  # (declared as a FromClause: every model here maps one Table)


#: mapped_column that keeps the legacy upper-case column name unquoted.
column = functools.partial(mapped_column, quote=False)
#: __table_args__ entry for the same reason.
LEGACY_TABLE: dict[str, Any] = {"quote": False}


# The kit has the same SQLite set-up in strangler/migrate/db.py (open_engine); this demo monolith keeps its own
# copy on purpose: it stands for a team's legacy app, which never imports the kit (import-linter contract).
def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None  # the driver must not BEGIN by itself: _sqlite_on_begin does
    cursor = dbapi_connection.cursor()
    for pragma in ("journal_mode=WAL", f"busy_timeout={SQLITE_BUSY_TIMEOUT_MS}", "foreign_keys=ON",
                   "synchronous=NORMAL"):
        cursor.execute(f"PRAGMA {pragma}")
    cursor.close()


def _sqlite_on_begin(connection: Any) -> None:
    immediate = connection.get_execution_options().get(WRITE_OPTION, False)
    connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def make_engine(url: str) -> Engine:
    """Engine for LEGACY_DATABASE_URL; creates the directory of a SQLite file. A SQLite engine carries the id
    ceiling (LEGACY_ID_CEILING, default DEFAULT_ID_CEILING) that new ProductIds stay below."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return create_engine(url, pool_pre_ping=True, hide_parameters=True)  # no request values in errors
    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, hide_parameters=True, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
                           execution_options={ID_CEILING_OPTION: id_ceiling()})
    event.listen(engine, "connect", _sqlite_on_connect)
    event.listen(engine, "begin", _sqlite_on_begin)
    return engine


def id_ceiling() -> int:
    raw = os.environ.get(ID_CEILING_ENV, "").strip()
    if not raw:
        return DEFAULT_ID_CEILING
    try:
        return int(raw)
    except ValueError:
        raise ValueError(f"{ID_CEILING_ENV}={raw!r} is not a whole number. Fix: set it to the services' "
                         f"smallest id range start (default {DEFAULT_ID_CEILING})") from None


def own_ids_below_ceiling(model: type[Base]) -> None:
    """SQLite only: a new row of `model` (single integer key) gets the highest id BELOW the id ceiling plus one,
    not SQLite's max(rowid) + 1, which would jump into a service's id range once reverse sync has copied a
    service row here. (PostgreSQL's serial sequence is not moved by explicit inserts.) Writes hold BEGIN
    IMMEDIATE: no race."""
    [key] = model.__table__.primary_key.columns
    attribute = model.__mapper__.get_property_by_column(key).key

    @event.listens_for(model, "before_insert")
    def _own_id(_mapper: Any, connection: Connection, row: Any) -> None:
        ceiling = connection.get_execution_options().get(ID_CEILING_OPTION)
        if getattr(row, attribute) is not None or ceiling is None or connection.dialect.name != "sqlite":
            return
        highest = connection.scalar(select(func.max(key)).where(key < ceiling)) or 0
        if highest + 1 >= ceiling:
            raise RuntimeError(f"{model.__tablename__}: no {key.name} left below {ID_CEILING_ENV}={ceiling}")
        setattr(row, attribute, highest + 1)


def writer(engine: Engine) -> Engine:
    """The same engine (same pool) whose transactions take the write lock up front on SQLite."""
    return engine.execution_options(**{WRITE_OPTION: True})


def load_models() -> MetaData:
    """Import every module's models so the shared MetaData knows all tables (and their FKs resolve)."""
    from legacy_monolith.catalog import models as _catalog  # noqa: F401
    from legacy_monolith.customers import models as _customers  # noqa: F401
    from legacy_monolith.inventory import models as _inventory  # noqa: F401
    from legacy_monolith.orders import models as _orders  # noqa: F401
    return Base.metadata


def init_db(engine: Engine) -> None:
    """Create missing tables and the reference warehouses (idempotent)."""
    from legacy_monolith.inventory.models import REFERENCE_WAREHOUSES, Warehouse

    metadata = load_models()
    with writer(engine).begin() as conn:
        # Compare case-insensitively: PostgreSQL folds our unquoted names to lower case.
        present = {name.lower() for name in inspect(conn).get_table_names()}
        missing = [t for t in metadata.sorted_tables if t.name.lower() not in present]
        if missing:
            metadata.create_all(conn, tables=missing, checkfirst=False)
    with writer(engine).begin() as conn:
        codes = {row[0] for row in conn.execute(Warehouse.__table__.select().with_only_columns(
            Warehouse.__table__.c.WH_CD))}
        rows = [{"WH_CD": code, "WH_NM": name} for code, name in REFERENCE_WAREHOUSES if code not in codes]
        if rows:
            conn.execute(Warehouse.__table__.insert(), rows)


def rowcount(result: Result[Any]) -> int:
    """Rows a conditional UPDATE changed: Session.execute is typed as returning a Result, and DML answers a
    CursorResult."""
    return cast(CursorResult[Any], result).rowcount


def reset_sequences(engine: Engine) -> None:
    """After bulk inserts with explicit ids, move PostgreSQL serial sequences past the max id."""
    if engine.dialect.name != "postgresql":
        return
    metadata = load_models()
    with engine.begin() as conn:
        for table in metadata.sorted_tables:
            pk = list(table.primary_key.columns)
            if len(pk) != 1 or pk[0].autoincrement is False or pk[0].type.python_type is not int:
                continue
            name, col = table.name.lower(), pk[0].name.lower()
            conn.execute(text(f"SELECT setval(pg_get_serial_sequence('{name}', '{col}'), "
                              f"COALESCE((SELECT MAX({col}) FROM {name}), 0) + 1, false)"))
