"""Backfill engine: keyset-batched reads from the source, translation, idempotent upserts into the target,
a checkpoint and a quarantine in the target database.

Why this shape:
- Keyset pagination (WHERE key > last ORDER BY key LIMIT n) reads each row once at constant cost and memory
  per batch; the last key of a committed batch is the resume point.
- The batch's upserts, its quarantined rows and the checkpoint commit in ONE target transaction: a run killed
  at any instant resumes exactly after the last committed batch, and re-applying a batch is harmless because
  upserts (INSERT … ON CONFLICT DO UPDATE) converge.
- The source batch is read INSIDE the target's write transaction, under the feature's writer lock, so a
  concurrently running sync can never be overwritten by an older read (see strangler.migrate.db).
- A row that cannot be translated, or that breaks a target constraint, goes to _strangler_quarantine with
  its reason and raw JSON; the run goes on.
"""
from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Any

from sqlalchemy import Column, Connection, Engine, Table, and_, func, select, true, tuple_
from sqlalchemy.exc import IntegrityError

from proxy.common import clock
from strangler.migrate.bulk import BatchUpsert
from strangler.migrate.db import (
    MigrationError,
    checkpoints,
    dialect_insert,
    ensure_bookkeeping,
    has_table,
    keyset_columns,
    lock_feature,
    mark_applying,
    open_engine,
    quarantine,
    reflect_table,
    reset_sequence,
    unmark_applying,
    upsert_statement,
    writer,
)
from strangler.migrate.mapping import ColumnCheck, TableMapping, UnknownColumn, decode_key, encode_key, row_type

__all__ = ["BackfillReport", "MigrationError", "Progress", "backfill", "open_engine", "reflect_table",
           "reset_sequence", "upsert_statement"]

MAX_REASONS = 10
DEFAULT_FEATURE = "default"
DEFAULT_BATCH_SIZE = 2000  # rows per target transaction: amortises the per-batch commit, memory stays flat
Progress = Callable[["BackfillReport"], None]


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
    resumed_from: Any = None        # last key of the checkpoint this run continued after
    already_complete: bool = False  # the checkpoint said done: nothing was read (use restart to redo)
    read_this_run: int = 0
    quarantined: int = 0            # rows of this table in _strangler_quarantine now (what verify and status count)

    @property
    def rows_per_s(self) -> float:
        return self.read_this_run / self.elapsed_s if self.elapsed_s > 0 else 0.0

    def note_failure(self, key: Any, exc: Exception) -> None:
        self.failed += 1
        if len(self.reasons) < MAX_REASONS:
            self.reasons.append({"key": key, "field": getattr(exc, "field", None), "reason": reason_text(exc)})

    def as_dict(self) -> dict[str, Any]:
        return {"source_table": self.source_table, "target_table": self.target_table, "total": self.total,
                "read": self.read, "written": self.written, "failed": self.failed,
                "read_this_run": self.read_this_run, "resumed_from": self.resumed_from,
                "already_complete": self.already_complete, "quarantined": self.quarantined,
                "elapsed_s": round(self.elapsed_s, 3),
                "rows_per_s": round(self.rows_per_s, 1), "reasons": self.reasons}


def display_key(key: Sequence[Any]) -> Any:
    """A one-column key as its value (42), a composite key as a list ([7, 1])."""
    return key[0] if len(key) == 1 else list(key)


def reason_text(exc: Exception) -> str:
    """One readable line: 'FIELD=value: reason' for the ACL's TranslationError, else the message."""
    field_name, reason = getattr(exc, "field", None), getattr(exc, "reason", None)
    if field_name and reason:
        return f"{field_name}={exc.value!r}: {reason}" if hasattr(exc, "value") else f"{field_name}: {reason}"
    return str(exc) or type(exc).__name__


def quarantine_rows(conn: Connection, feature: str, table: str, failures: Sequence[tuple[Any, str, Mapping]]) -> None:
    """Upsert (key, reason, raw row) into _strangler_quarantine; first_seen kept, last_seen moved."""
    if not failures:
        return
    stamp = clock.stamp()
    statement = dialect_insert(conn, quarantine)
    statement = statement.on_conflict_do_update(
        index_elements=["feature", "table_name", "row_key"],
        set_={"reason": statement.excluded.reason, "raw_row": statement.excluded.raw_row, "last_seen": stamp})
    conn.execute(statement, [{"feature": feature, "table_name": table, "row_key": encode_key(key), "reason": reason,
                              "raw_row": json.dumps(dict(raw), default=str), "first_seen": stamp,
                              "last_seen": stamp} for key, reason, raw in failures])


def quarantined_count(engine: Engine, feature: str | None, table: str | None = None) -> int:
    """Rows in _strangler_quarantine (of one feature, optionally one table): the one definition of
    "quarantined" that backfill, verify and `migrate status` report."""
    if not has_table(engine, quarantine.name):
        return 0
    conditions = [quarantine.c.feature == feature] if feature is not None else []
    if table is not None:
        conditions.append(quarantine.c.table_name == table)
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(quarantine).where(and_(true(), *conditions))
                            ).scalar_one()


def column_check(table: Table) -> ColumnCheck:
    return ColumnCheck(table.name, [c.key for c in table.columns])


def release_quarantine(conn: Connection, feature: str, table: str, keys: Sequence[Sequence[Any]]) -> None:
    """Rows that now translate and land are no longer quarantined."""
    if keys:
        conn.execute(quarantine.delete().where(quarantine.c.feature == feature, quarantine.c.table_name == table,
                                               quarantine.c.row_key.in_([encode_key(k) for k in keys])))


def write_rows(conn: Connection, statement: Any, rows: list[dict[str, Any]], keys: list[Any],
               on_failure: Callable[[Any, str], None], check: ColumnCheck | None = None) -> int:
    """Upsert a batch in a savepoint; on a constraint violation redo it row by row, reporting the bad rows.

    `statement` is an upsert statement or a BatchUpsert (the compiled-once fast path of the backfill). With
    `check`, a row with a key that is no column of the table is reported (UnknownColumn), never written
    without it. Free on the fast path: BatchUpsert prepares a batch only when every row has exactly the
    table's columns; otherwise one subset test per row.
    """
    prepared = statement.parameters(rows) if isinstance(statement, BatchUpsert) and rows else None
    if prepared is None and check is not None:
        rows, keys = _known_columns_only(rows, keys, check, on_failure)
        if isinstance(statement, BatchUpsert) and rows:
            prepared = statement.parameters(rows)
    if not rows:
        return 0
    if isinstance(statement, BatchUpsert):
        def run(batch: list[dict[str, Any]], start: int) -> None:
            statement.run(conn, batch, None if prepared is None else prepared[start:start + len(batch)])
    else:
        def run(batch: list[dict[str, Any]], start: int) -> None:
            conn.execute(statement, batch)
    try:
        with conn.begin_nested():
            run(rows, 0)
        return len(rows)
    except IntegrityError:
        pass
    written = 0
    for index, (row, key) in enumerate(zip(rows, keys, strict=True)):
        try:
            with conn.begin_nested():
                run([row], index)
            written += 1
        except IntegrityError as exc:
            on_failure(key, f"target constraint violated: {exc.orig}")
    return written


def _known_columns_only(rows: list[dict[str, Any]], keys: list[Any], check: ColumnCheck,
                        on_failure: Callable[[Any, str], None]) -> tuple[list[dict[str, Any]], list[Any]]:
    kept_rows, kept_keys = [], []
    for row, key in zip(rows, keys, strict=True):
        try:
            check(row)
        except UnknownColumn as exc:
            on_failure(key, reason_text(exc))
        else:
            kept_rows.append(row)
            kept_keys.append(key)
    return kept_rows, kept_keys


def _keyset_query(table: Table, keys: list[Column], last: tuple | None, limit: int) -> Any:
    query = select(table).order_by(*keys).limit(limit)
    if last is not None:
        query = query.where(keys[0] > last[0] if len(keys) == 1 else tuple_(*keys) > tuple_(*last))
    return query


def _load_checkpoint(engine: Engine, feature: str, table: str) -> Mapping[Any, Any] | None:
    with engine.connect() as conn:
        return conn.execute(select(checkpoints).where(checkpoints.c.feature == feature,
                                                      checkpoints.c.table_name == table)).mappings().first()


def _save_checkpoint(conn: Connection, feature: str, report: BackfillReport, last: tuple | None,
                     started_at: str, done: bool, statement: Any = None) -> None:
    stamp = clock.stamp()
    conn.execute(statement if statement is not None else upsert_statement(conn, checkpoints, ("feature", "table_name")),
                 [{"feature": feature, "table_name": report.source_table,
                   "last_key": None if last is None else encode_key(last), "rows_read": report.read,
                   "rows_written": report.written, "rows_failed": report.failed,
                   "total": report.total, "started_at": started_at,
                   "completed_at": stamp if done else None, "updated_at": stamp}])


def _translate_batch(translate: Callable[[Mapping[str, Any]], Mapping[str, Any]], names: tuple[str, ...],
                     batch: Sequence[Sequence[Any]], key_of: Callable[[Sequence[Any]], tuple],
                     report: BackfillReport
                     ) -> tuple[list[dict[str, Any]], list[tuple], list[tuple[Any, str, Mapping]]]:
    """Source tuples → (target rows, their keys, failures as (key, reason, raw row))."""
    make_row = row_type(names)
    rows: list[dict[str, Any]] = []
    row_keys: list[tuple] = []
    failures: list[tuple[Any, str, Mapping]] = []
    for values in batch:
        raw = make_row(zip(names, values, strict=True))
        try:
            rows.append(dict(translate(raw)))
        except ValueError as exc:
            key = key_of(values)
            failures.append((key, reason_text(exc), raw))
            report.note_failure(display_key(key), exc)
        else:
            row_keys.append(key_of(values))
    return rows, row_keys, failures


def backfill(mapping: TableMapping, source: Engine, target: Engine, *, batch_size: int = DEFAULT_BATCH_SIZE,
             progress: Progress | None = None, feature: str = DEFAULT_FEATURE,
             restart: bool = False) -> BackfillReport:
    """Copy every source row into the target through `mapping.translate`, resuming from the checkpoint.

    A finished checkpoint makes this a no-op (`already_complete`); `restart=True` ignores the checkpoint.
    """
    if batch_size < 1:
        raise MigrationError("batch size must be at least 1")
    started = time.perf_counter()
    source_table = reflect_table(source, mapping.source_table)
    keys = keyset_columns(source_table, mapping.source_keys)
    ensure_bookkeeping(target)
    mapping.target.metadata.create_all(target, tables=[mapping.target])
    upsert = BatchUpsert(target, mapping.target, mapping.target_key)
    save_statement = upsert_statement(target, checkpoints, ("feature", "table_name"))
    check = column_check(mapping.target)
    report = BackfillReport(source_table=mapping.source_table, target_table=mapping.target.name)
    with source.connect() as conn:
        report.total = conn.execute(select(func.count()).select_from(source_table)).scalar_one()
    quarantined_before = quarantined_count(target, feature, mapping.source_table)

    last: tuple | None = None
    started_at = clock.stamp()
    checkpoint = None if restart else _load_checkpoint(target, feature, mapping.source_table)
    if checkpoint is not None:
        report.read, report.written = checkpoint["rows_read"] or 0, checkpoint["rows_written"] or 0
        report.failed, started_at = checkpoint["rows_failed"] or 0, checkpoint["started_at"] or started_at
        last = decode_key(checkpoint["last_key"]) if checkpoint["last_key"] else None
        report.resumed_from = display_key(last) if last is not None else None
        if checkpoint["completed_at"]:
            report.already_complete = True
            report.quarantined = quarantined_count(target, feature, mapping.source_table)
            report.elapsed_s = time.perf_counter() - started
            return report

    while True:
        with writer(target).begin() as tconn:
            lock_feature(tconn, feature)
            with source.connect() as sconn:
                result = sconn.execute(_keyset_query(source_table, keys, last, batch_size))
                names = tuple(result.keys())
                batch = result.fetchall()  # plain tuples; names are applied once per batch
            if not batch:
                _save_checkpoint(tconn, feature, report, last, started_at, done=True, statement=save_statement)
                break
            mark_applying(tconn)
            positions = [names.index(k.name) for k in keys]
            key_of = (lambda values, i=positions[0]: (values[i],)) if len(positions) == 1 else \
                (lambda values, get=itemgetter(*positions): tuple(get(values)))
            last = key_of(batch[-1])
            translate = mapping.translate if mapping.batch_translate is None else mapping.batch_translate()
            rows, row_keys, failures = _translate_batch(translate, names, batch, key_of, report)

            def row_failure(key: Any, reason: str, batch=batch, key_of=key_of, names=names,
                                   failures=failures) -> None:
                raw = next((dict(zip(names, r, strict=True)) for r in batch if key_of(r) == key), {})
                failures.append((key, reason, raw))
                report.note_failure(display_key(key), ValueError(reason))

            report.written += write_rows(tconn, upsert, rows, row_keys, row_failure, check)
            quarantine_rows(tconn, feature, mapping.source_table, failures)
            if quarantined_before:
                failed_keys = {f[0] for f in failures}
                release_quarantine(tconn, feature, mapping.source_table,
                                   [k for k in row_keys if k not in failed_keys])
            report.read += len(batch)
            report.read_this_run += len(batch)
            _save_checkpoint(tconn, feature, report, last, started_at, done=False, statement=save_statement)
            unmark_applying(tconn)
        report.elapsed_s = time.perf_counter() - started
        if progress is not None:
            progress(report)
    reset_sequence(target, mapping.target)
    report.quarantined = quarantined_count(target, feature, mapping.source_table)
    report.elapsed_s = time.perf_counter() - started
    return report
