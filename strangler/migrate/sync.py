"""Continuous sync: apply captured changes from one database to the other through the ACL mappings.

forward: legacy owns writes; legacy changes → service tables (mapping.translate).
reverse: the service owns writes; service changes → legacy tables (mapping.to_source), so monolith modules
that still read those tables keep working.

Each round, under the feature's writer lock, in ONE transaction of the database written to: read the oldest
changes, re-read the current rows (a missing row means delete), translate, upsert, quarantine what cannot
land, advance the applied-seq checkpoint. Only after that commit are exactly the applied change rows removed
from the log. A crash in between re-applies them (idempotent: at-least-once). Why remove rows instead of only
trusting `seq > checkpoint`: PostgreSQL sequence numbers are handed out before commit, so a change with a
smaller seq can become visible after a larger one was applied; a checkpoint alone would skip it forever.
"""
from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Column, Connection, Engine, Table, and_, func, select, tuple_
from sqlalchemy.exc import IntegrityError

from proxy.common import clock
from strangler.migrate.db import (
    changes,
    ensure_bookkeeping,
    has_table,
    lock_feature,
    mark_applying,
    sync_state,
    unmark_applying,
    upsert_statement,
    writer,
)
from strangler.migrate.engine import quarantine_rows, reason_text, release_quarantine
from strangler.migrate.mapping import Row, decode_key

DIRECTIONS = ("forward", "reverse")


@dataclass(frozen=True)
class Route:
    """How changes of one logged table travel: where to re-read them and where/how to write them."""

    logical: str                  # table name as written by the capture triggers
    read_table: Table
    read_keys: tuple[Column, ...]
    write_table: Table
    write_keys: tuple[str, ...]   # column names in write_table, position by position with read_keys
    translate: Callable[[Row], dict[str, Any]]


@dataclass
class ApplyResult:
    changes: int = 0
    upserted: int = 0
    deleted: int = 0
    quarantined: int = 0
    reasons: list[str] = field(default_factory=list)


@dataclass
class Lag:
    pending: int
    oldest_age_s: float

    def as_dict(self) -> dict[str, Any]:
        return {"pending": self.pending, "lag_s": round(self.oldest_age_s, 3)}


def lag(read_engine: Engine, routes: Sequence[Route]) -> Lag:
    """Unapplied changes for these tables: how many, and how old the oldest is (0 when none)."""
    if not has_table(read_engine, changes.name):
        return Lag(0, 0.0)
    with read_engine.connect() as conn:
        count, oldest = conn.execute(select(func.count(), func.min(changes.c.captured_at)).where(
            changes.c.table_name.in_([r.logical for r in routes]))).one()
    return Lag(int(count), max(0.0, time.time() - oldest) if count else 0.0)


def _current_rows(conn: Connection, route: Route, keys: list[tuple]) -> dict[tuple, Any]:
    columns = list(route.read_keys)
    condition = columns[0].in_([k[0] for k in keys]) if len(columns) == 1 else tuple_(*columns).in_(keys)
    rows = conn.execute(select(route.read_table).where(condition)).mappings()
    return {tuple(row[c.name] for c in columns): row for row in rows}


def _apply_one(conn: Connection, route: Route, key: tuple[Any, ...], raw: Any, feature: str, quarantine_name: str,
               result: ApplyResult) -> None:
    table = route.write_table
    if raw is None:
        condition = and_(*[table.c[name] == value for name, value in zip(route.write_keys, key, strict=True)])
        with conn.begin_nested():
            conn.execute(table.delete().where(condition))
        result.deleted += 1
        release_quarantine(conn, feature, quarantine_name, [key])
        return
    values = route.translate(Row(raw))
    with conn.begin_nested():
        conn.execute(upsert_statement(conn, table, route.write_keys), [values])
    result.upserted += 1
    release_quarantine(conn, feature, quarantine_name, [key])


def apply_once(feature: str, direction: str, routes: Sequence[Route], read_engine: Engine, write_engine: Engine,
               *, batch_size: int = 500) -> ApplyResult:
    """Apply up to `batch_size` of the oldest changes; returns what happened (changes=0: nothing pending)."""
    result = ApplyResult()
    by_name = {r.logical: r for r in routes}
    applied_seqs: list[int] = []
    with writer(write_engine).begin() as wconn:
        lock_feature(wconn, feature)
        with read_engine.connect() as rconn:
            log = rconn.execute(select(changes.c.seq, changes.c.table_name, changes.c.row_key)
                                .where(changes.c.table_name.in_(list(by_name))).order_by(changes.c.seq)
                                .limit(batch_size)).all()
            if not log:
                return result
            order: dict[tuple[str, tuple], None] = {}
            for _seq, name, key in log:
                order.setdefault((name, decode_key(key)), None)
            current: dict[str, dict[tuple, Any]] = {}
            for name, route in by_name.items():
                keys = [k for (n, k) in order if n == name]
                if keys:
                    current[name] = _current_rows(rconn, route, keys)
        mark_applying(wconn)
        failures: dict[str, list] = {}
        for name, key in order:
            route, raw = by_name[name], current[name].get(key)
            quarantine_name = name
            try:
                _apply_one(wconn, route, key, raw, feature, quarantine_name, result)
            except (ValueError, IntegrityError) as exc:
                reason = reason_text(exc) if isinstance(exc, ValueError) else \
                    f"target constraint violated: {getattr(exc, 'orig', exc)}"
                failures.setdefault(name, []).append((key, reason, raw or {"deleted": True}))
                result.quarantined += 1
                if len(result.reasons) < 10:
                    result.reasons.append(f"{name} {list(key)}: {reason}")
        for name, items in failures.items():
            quarantine_rows(wconn, feature, name, items)
        result.changes = len(log)
        applied_seqs = [seq for seq, _n, _k in log]
        stamp = clock.stamp()
        previous = wconn.execute(select(sync_state.c.applied_seq, sync_state.c.applied_count).where(
            sync_state.c.feature == feature, sync_state.c.direction == direction)).first()
        wconn.execute(upsert_statement(wconn, sync_state, ("feature", "direction")), [{
            "feature": feature, "direction": direction,
            "applied_seq": max(max(applied_seqs), previous[0] if previous else 0),
            "applied_count": (previous[1] if previous else 0) + len(applied_seqs), "updated_at": stamp}])
        unmark_applying(wconn)
    with writer(read_engine).begin() as rconn:  # only now: a crash before this line re-applies (idempotent)
        for start in range(0, len(applied_seqs), 500):
            rconn.execute(changes.delete().where(changes.c.seq.in_(applied_seqs[start:start + 500])))
    return result


def drain(feature: str, direction: str, routes: Sequence[Route], read_engine: Engine, write_engine: Engine,
          *, batch_size: int = 500, max_rounds: int | None = None) -> ApplyResult:
    """Apply until nothing is pending (or max_rounds); totals of every round."""
    ensure_bookkeeping(write_engine)
    total = ApplyResult()
    rounds = 0
    while max_rounds is None or rounds < max_rounds:
        result = apply_once(feature, direction, routes, read_engine, write_engine, batch_size=batch_size)
        rounds += 1
        for name in ("changes", "upserted", "deleted", "quarantined"):
            setattr(total, name, getattr(total, name) + getattr(result, name))
        total.reasons = (total.reasons + result.reasons)[:10]
        if result.changes == 0:
            break
    return total


def applied_state(write_engine: Engine, feature: str, direction: str) -> dict[str, Any] | None:
    if not has_table(write_engine, sync_state.name):
        return None
    with write_engine.connect() as conn:
        row = conn.execute(select(sync_state).where(sync_state.c.feature == feature,
                                                    sync_state.c.direction == direction)).mappings().first()
    return dict(row) if row else None
