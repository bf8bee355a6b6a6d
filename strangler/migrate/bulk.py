"""The backfill's hot write: one upsert compiled ONCE, each batch sent as a single DBAPI executemany.

Why: `conn.execute(statement, rows)` redoes per-batch and per-row work in SQLAlchemy (compiled-cache lookup,
parameter construction and type processing per row, through several layers). Here the SQL text and every
column's bind processor — the very functions SQLAlchemy would apply (type decorators, enums, SQLite's datetime
text format) — are resolved once, and a row becomes driver parameters in one tight pass. The statement still
runs through `Connection.exec_driver_sql`, so it joins the open transaction/savepoint and a constraint
violation still surfaces as sqlalchemy.exc.IntegrityError.

Whatever this path was not built for — a row without exactly the table's columns, a processor raising,
columns with Python-side defaults, escaped parameter names — falls back to plain `conn.execute(statement,
rows)`, so the outcome (values stored, errors raised) is always SQLAlchemy's own.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from operator import itemgetter
from typing import Any

from sqlalchemy import Connection, Engine, Table
from sqlalchemy.dialects import sqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator, TypeEngine

from strangler.migrate.db import upsert_statement


def bind_processor(type_: TypeEngine, dialect: Dialect) -> Callable[[Any], Any] | None:
    """SQLAlchemy's own bind processor for `type_` — except that SQLite's default DATETIME text
    ('YYYY-MM-DD HH:MM:SS.ffffff', built by SQLAlchemy with a %-format of seven fields) comes from
    `datetime.isoformat(' ', 'microseconds')`, the identical string at C speed, for plain naive datetimes.
    Everything else (other types, custom storage formats, aware or exotic values) keeps SQLAlchemy's function.
    """
    impl = type_.dialect_impl(dialect)
    standard = impl.bind_processor(dialect)
    if standard is None or dialect.name != "sqlite":
        return standard
    outer = None
    inner = impl
    if isinstance(impl, TypeDecorator):
        if not impl._has_bind_processor:  # the same test TypeDecorator.bind_processor makes
            return standard
        outer, inner = impl.process_bind_param, impl.impl_instance
    if type(inner) is not sqlite.DATETIME or inner._storage_format != sqlite.DATETIME._storage_format:
        return standard
    inner_standard = inner.bind_processor(dialect)
    if inner_standard is None:
        return standard

    def as_text(value: Any) -> Any:
        if type(value) is datetime and value.tzinfo is None:
            return value.isoformat(" ", "microseconds")
        return inner_standard(value)
    if outer is None:
        return as_text
    return lambda value: as_text(outer(value, dialect))


def unnest_form(sql: str, width: int) -> tuple[str, list[str | None]] | None:
    """A positional '%s' `INSERT … VALUES (%s::T1, …, %s::Tn) <suffix>` rewritten as `INSERT …
    SELECT * FROM unnest(%s::T1[], …) <suffix>` (one array parameter per column), with each column's cast
    (None where the statement has none); None if the statement is not of that simple shape."""
    marker = " VALUES ("
    if sql.count(marker) != 1 or sql.count("%s") != width or "'" in sql:
        return None
    start = sql.index(marker) + len(marker)
    items, depth, item_start = [], 0, start
    for end in range(start, len(sql)):
        char = sql[end]
        if char == "(":
            depth += 1
        elif char == ")" and depth > 0:
            depth -= 1
        elif depth == 0 and char in ",)":
            items.append(sql[item_start:end].strip())
            item_start = end + 1
            if char == ")":
                break
    else:
        return None
    casts: list[str | None] = []
    for item in items:
        if item == "%s":
            casts.append(None)
        elif item.startswith("%s::") and "%" not in item[2:]:
            casts.append(item[4:])
        else:
            return None
    if len(casts) != width:
        return None
    arrays = ", ".join(f"%b::{cast or 'TEXT'}[]" for cast in casts)  # %b: binary arrays, no text quoting
    return f"{sql[:start - len(marker)]} SELECT * FROM unnest({arrays}){sql[end + 1:]}", casts


def _one_value(key: str) -> Callable[[Mapping[str, Any]], tuple[Any]]:
    """`itemgetter` of one key returns the value, not a 1-tuple: the parameter rows need the tuple."""
    def values(row: Mapping[str, Any]) -> tuple[Any]:
        return (row[key],)
    return values


class BatchUpsert:
    """INSERT … ON CONFLICT (key) DO UPDATE for `table`, ready for repeated batches on one dialect.

    PostgreSQL: a batch goes as ONE statement with one array parameter per column (`INSERT … SELECT * FROM
    unnest(…) ON CONFLICT …`, same casts as the row form) instead of a protocol round of work per row. The
    row-at-a-time executemany stays for batches the array form would treat differently: a conflict key that
    repeats (one statement may not update a row twice; sequential upserts may, last wins) or a column whose
    values are not of one type (or all NULL without a cast), which could not become one typed array.
    """

    def __init__(self, bind: Engine | Connection, table: Table, conflict_key: Sequence[str]) -> None:
        self.statement = upsert_statement(bind, table, conflict_key)
        dialect = bind.dialect
        columns = [c.key for c in table.columns]
        compiled = self.statement.compile(dialect=dialect, column_keys=columns)
        self.sql = compiled.string
        self.width = len(columns)
        self.fast = (set(compiled.binds) == set(columns) and len(compiled.binds) == len(columns)
                     and not compiled.insert_prefetch and not compiled.update_prefetch
                     and not compiled.escaped_bind_names and not compiled.literal_execute_params
                     and not compiled.post_compile_params)
        order = list(compiled.positiontup or ()) if dialect.positional else columns
        if sorted(order) != sorted(columns):
            self.fast, order = False, columns
        self.order = order
        self._positional = dialect.positional
        self._values: Callable[[Mapping[str, Any]], Any] = itemgetter(*order) if len(order) > 1 else \
            _one_value(order[0])
        processors = ((i, bind_processor(compiled.binds[name].type, dialect))
                      for i, name in enumerate(order) if name in compiled.binds)
        self._processors = [(i, process) for i, process in processors if process is not None]
        self._key_positions = [order.index(k) for k in conflict_key if k in order]
        self._multi = self._multi_row_form(dialect, columns, conflict_key) if self.fast else None

    def _multi_row_form(self, dialect: Dialect, columns: list[str],
                        conflict_key: Sequence[str]) -> tuple[str, list[str | None]] | None:
        """PostgreSQL only: the statement compiled with positional '%s' parameters in `order`, accepted only if
        it is the named form with the placeholders swapped, rewritten to its unnest form."""
        if dialect.name != "postgresql" or self._positional or len(self._key_positions) != len(conflict_key):
            return None
        positional = type(dialect)(paramstyle="format")  # type: ignore[call-arg]  # every real dialect takes it
        compiled = self.statement.compile(dialect=positional, column_keys=columns)
        if list(compiled.positiontup or ()) != self.order:
            return None
        named = self.sql
        for name in self.order:
            named = named.replace(f"%({name})s", "%s", 1)
        if named != compiled.string:
            return None
        return unnest_form(compiled.string, self.width)

    def parameters(self, rows: Sequence[Mapping[str, Any]]) -> list[tuple[Any, ...]] | None:
        """Processed driver values (tuples in `order`) for `rows`, or None when the batch must take
        SQLAlchemy's own path (a row without exactly the table's columns, a processor error)."""
        if not self.fast:
            return None
        width, values_of, processors = self.width, self._values, self._processors
        out: list[tuple[Any, ...]] = []
        try:
            for row in rows:
                if len(row) != width:
                    return None
                values = values_of(row)
                if processors:
                    values = list(values)
                    for i, process in processors:
                        values[i] = process(values[i])
                    values = tuple(values)
                out.append(values)
        except Exception:  # noqa: BLE001 - a missing key or a processor error: SQLAlchemy reports it its own way
            return None
        return out

    def run(self, conn: Connection, rows: Sequence[Mapping[str, Any]],
            prepared: Sequence[tuple[Any, ...]] | None = None) -> None:
        """Upsert `rows` (whose driver values may already be `prepared`) in the connection's transaction."""
        if prepared is None:
            prepared = self.parameters(rows)
        if prepared is None:
            conn.execute(self.statement, list(rows))
            return
        if not prepared:
            return
        if self._multi is not None and len(prepared) > 1 and self._run_arrays(conn, prepared):
            return
        order = self.order
        if self._positional:
            conn.exec_driver_sql(self.sql, list(prepared))
        else:
            conn.exec_driver_sql(self.sql, [dict(zip(order, values, strict=True)) for values in prepared])

    def _run_arrays(self, conn: Connection, prepared: Sequence[tuple[Any, ...]]) -> bool:
        """The unnest form for this batch, if it suits it (see the class docstring); False: not run."""
        sql, casts = self._multi  # type: ignore[misc]
        positions = self._key_positions
        try:
            if len({tuple(values[i] for i in positions) for values in prepared}) != len(prepared):
                return False
        except TypeError:  # an unhashable key value: leave it to the row form
            return False
        columns = list(zip(*prepared, strict=True))
        for column, cast in zip(columns, casts, strict=True):
            kinds = {type(v) for v in column if v is not None}
            if len(kinds) > 1 or (cast is None and kinds != {str}):
                return False
            if kinds and issubclass(next(iter(kinds)), datetime) and \
                    len({v.tzinfo is None for v in column if v is not None}) > 1:
                return False
        conn.exec_driver_sql(sql, tuple(list(column) for column in columns))
        return True
