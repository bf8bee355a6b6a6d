"""Backfill engine: keyset-batched reads from the source, translation, idempotent upserts into the target.

Why this shape:
- Keyset pagination (WHERE key > last ORDER BY key LIMIT n) reads each row once at constant cost per batch,
  and is the natural resume point for checkpoints later.
- Upserts (INSERT … ON CONFLICT DO UPDATE on SQLite and PostgreSQL) make a re-run converge instead of
  failing, so a backfill can be repeated after fixes or interrupted safely.
- A row that cannot be translated is counted and its first reasons kept; it never stops the run. A batch
  that violates a target constraint is retried row by row so one bad row cannot sink its neighbours.
"""
from __future__ import annotations

import time
from pathlib import Path
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, MetaData, Table, create_engine, event, func, inspect, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.sql import Executable

from strangler.migrate.mapping import Row, TableMapping

MAX_REASONS = 10
Progress = Callable[["BackfillReport"], None]


class MigrationError(RuntimeError):
    """The migration cannot run (missing table, unsupported database); the message says how to fix it."""


@dataclass
class BackfillReport:
    source_table: str
    target_table: str
    total: int = 0
    read: int = 0
    written: int = 0
    failed: int = 0
    reasons: list[dict[str, Any]] = field(default_factory=list)
    elapsed_s: float = 0.0

    @property
    def rows_per_s(self) -> float:
        return self.read / self.elapsed_s if self.elapsed_s > 0 else 0.0

    def note_failure(self, key: Any, exc: Exception) -> None:
        self.failed += 1
        if len(self.reasons) < MAX_REASONS:
            self.reasons.append({"key": key, "field": getattr(exc, "field", None),
                                 "value": repr(getattr(exc, "value", None)) if hasattr(exc, "value") else None,
                                 "reason": getattr(exc, "reason", None) or str(exc)})

    def as_dict(self) -> dict[str, Any]:
        return {"source_table": self.source_table, "target_table": self.target_table, "total": self.total,
                "read": self.read, "written": self.written, "failed": self.failed,
                "elapsed_s": round(self.elapsed_s, 3), "rows_per_s": round(self.rows_per_s, 1),
                "reasons": self.reasons}


def open_engine(url: str) -> Engine:
    """Engine for a migration endpoint; a SQLite file gets its folder, a busy timeout and foreign keys on."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return create_engine(url, pool_pre_ping=True)
    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"timeout": 30})

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_connection, _record) -> None:  # noqa: ANN001 - DBAPI types
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    return engine


def reflect_table(engine: Engine, name: str) -> Table:
    """The source table, found case-insensitively (unquoted upper-case names fold to lower on PostgreSQL)."""
    names = inspect(engine).get_table_names()
    match = next((n for n in names if n == name), None) or next((n for n in names if n.lower() == name.lower()),
                                                                None)
    if match is None:
        raise MigrationError(f"source table {name} not found in {engine.url.render_as_string(hide_password=True)}"
                             f" (tables: {', '.join(sorted(names)) or 'none'}); check the source database URL")
    return Table(match, MetaData(), autoload_with=engine)


def upsert_statement(engine: Engine, target: Table, conflict_key: Sequence[str]) -> Executable:
    """INSERT … ON CONFLICT (key) DO UPDATE SET every other column = excluded value."""
    dialects = {"sqlite": sqlite.insert, "postgresql": postgresql.insert}
    insert = dialects.get(engine.dialect.name)
    if insert is None:
        raise MigrationError(f"upserts are implemented for SQLite and PostgreSQL, not {engine.dialect.name}")
    statement = insert(target)
    updates = {c.name: statement.excluded[c.name] for c in target.columns if c.name not in conflict_key}
    return statement.on_conflict_do_update(index_elements=list(conflict_key), set_=updates)


def _write(engine: Engine, statement: Executable, rows: list[dict[str, Any]], keys: list[Any],
           report: BackfillReport) -> None:
    try:
        with engine.begin() as conn:
            conn.execute(statement, rows)
        report.written += len(rows)
        return
    except IntegrityError:
        pass
    for row, key in zip(rows, keys, strict=True):  # isolate the row(s) breaking a target constraint
        try:
            with engine.begin() as conn:
                conn.execute(statement, [row])
            report.written += 1
        except IntegrityError as exc:
            report.note_failure(key, ValueError(f"target constraint violated: {exc.orig}"))


def reset_sequence(engine: Engine, target: Table) -> None:
    """PostgreSQL: after inserting explicit ids, move the serial sequence past the largest one."""
    pk = list(target.primary_key.columns)
    if engine.dialect.name != "postgresql" or len(pk) != 1 or pk[0].type.python_type is not int:
        return
    quote = engine.dialect.identifier_preparer.quote
    table, column = quote(target.name), quote(pk[0].name)
    with engine.begin() as conn:
        sequence = conn.execute(text("SELECT pg_get_serial_sequence(:t, :c)"),
                                {"t": target.name, "c": pk[0].name}).scalar()
        if sequence:
            conn.execute(text(f"SELECT setval(:s, COALESCE((SELECT MAX({column}) FROM {table}), 0) + 1, false)"),
                         {"s": sequence})


def backfill(mapping: TableMapping, source: Engine, target: Engine, *, batch_size: int = 500,
             progress: Progress | None = None) -> BackfillReport:
    """Copy every source row into the target through `mapping.translate`; safe to re-run."""
    if batch_size < 1:
        raise MigrationError("batch size must be at least 1")
    started = time.perf_counter()
    source_table = reflect_table(source, mapping.source_table)
    key = next((c for c in source_table.columns if c.name.lower() == mapping.source_key.lower()), None)
    if key is None:
        raise MigrationError(f"key column {mapping.source_key} not found in {source_table.name}")
    mapping.target.metadata.create_all(target, tables=[mapping.target])
    statement = upsert_statement(target, mapping.target, mapping.target_key)
    report = BackfillReport(source_table=mapping.source_table, target_table=mapping.target.name)
    with source.connect() as conn:
        report.total = conn.execute(select(func.count()).select_from(source_table)).scalar_one()

    last: Any = None
    while True:
        query = select(source_table).order_by(key).limit(batch_size)
        if last is not None:
            query = query.where(key > last)
        with source.connect() as conn:
            batch: list[Mapping[str, Any]] = list(conn.execute(query).mappings())
        if not batch:
            break
        last = batch[-1][key.name]
        rows, keys = [], []
        for raw in batch:
            try:
                rows.append(dict(mapping.translate(Row(raw))))
                keys.append(raw[key.name])
            except ValueError as exc:
                report.note_failure(raw[key.name], exc)
        report.read += len(batch)
        if rows:
            _write(target, statement, rows, keys, report)
        report.elapsed_s = time.perf_counter() - started
        if progress is not None:
            progress(report)
    reset_sequence(target, mapping.target)
    report.elapsed_s = time.perf_counter() - started
    return report
