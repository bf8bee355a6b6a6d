"""Change capture: AFTER INSERT/UPDATE/DELETE row triggers that log (table, key, op, time) into
_STRANGLER_CHANGES in the same database, on SQLite and PostgreSQL. Installed and removed by the kit.

Why triggers log only the key: the applier re-reads the row's CURRENT state when it applies a change, so a
burst of updates to one row costs one write downstream and the log can never replay a stale value.
Why the triggers skip the kit's own transactions: the sync applier writes into a database whose own capture
may be installed (reverse direction); echoing those writes back would ping-pong forever. The applier marks its
transaction — PostgreSQL `set_config('strangler.applying','on', true)` (transaction-local), SQLite a row in
_strangler_applying inserted and deleted inside the same transaction (invisible to every other connection,
and SQLite has one writer at a time) — and every trigger checks that mark.
"""
from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Engine, inspect, text

from strangler.migrate.db import CHANGES_TABLE, MigrationError, changes, ensure_changes, find_columns, reflect_table

PG_FUNCTION = "_strangler_capture"
_SAFE = re.compile(r"[^A-Za-z0-9_]")
_NOW_SQLITE = "((julianday('now') - 2440587.5) * 86400.0)"

PG_FUNCTION_SQL = f"""
CREATE OR REPLACE FUNCTION {PG_FUNCTION}() RETURNS trigger LANGUAGE plpgsql AS $fn$
DECLARE
  new_key jsonb := '[]'::jsonb;
  old_key jsonb := '[]'::jsonb;
  i int;
BEGIN
  IF coalesce(current_setting('strangler.applying', true), '') = 'on' THEN
    RETURN NULL;
  END IF;
  FOR i IN 1 .. TG_NARGS - 1 LOOP
    IF TG_OP <> 'DELETE' THEN new_key := new_key || jsonb_build_array(to_jsonb(NEW) -> TG_ARGV[i]); END IF;
    IF TG_OP <> 'INSERT' THEN old_key := old_key || jsonb_build_array(to_jsonb(OLD) -> TG_ARGV[i]); END IF;
  END LOOP;
  IF TG_OP = 'DELETE' THEN
    INSERT INTO {CHANGES_TABLE} (table_name, row_key, op, captured_at)
      VALUES (TG_ARGV[0], old_key::text, 'D', extract(epoch from clock_timestamp()));
  ELSE
    INSERT INTO {CHANGES_TABLE} (table_name, row_key, op, captured_at)
      VALUES (TG_ARGV[0], new_key::text, left(TG_OP, 1), extract(epoch from clock_timestamp()));
    IF TG_OP = 'UPDATE' AND old_key <> new_key THEN
      INSERT INTO {CHANGES_TABLE} (table_name, row_key, op, captured_at)
        VALUES (TG_ARGV[0], old_key::text, 'U', extract(epoch from clock_timestamp()));
    END IF;
  END IF;
  RETURN NULL;
END
$fn$
"""


@dataclass(frozen=True)
class CaptureSpec:
    """One table to capture: its name as recorded in the change log, and its key column(s)."""

    logical_name: str
    table: str
    key_columns: tuple[str, ...]


def trigger_name(table: str, op: str = "") -> str:
    base = f"_strangler_cap_{_SAFE.sub('_', table.lower())}"
    return f"{base}_{op}" if op else base


def _sqlite_triggers(spec: CaptureSpec, quote) -> list[str]:
    table = quote(spec.table)
    name = spec.logical_name.replace("'", "''")

    def key(alias: str) -> str:
        return "json_array(" + ", ".join(f"{alias}.{quote(c)}" for c in spec.key_columns) + ")"

    guard = "WHEN NOT EXISTS (SELECT 1 FROM _strangler_applying)"
    insert = f"INSERT INTO {CHANGES_TABLE} (table_name, row_key, op, captured_at) "
    return [
        f"CREATE TRIGGER IF NOT EXISTS {trigger_name(spec.table, 'ins')} AFTER INSERT ON {table} {guard} BEGIN "
        f"{insert} VALUES ('{name}', {key('NEW')}, 'I', {_NOW_SQLITE}); END",
        f"CREATE TRIGGER IF NOT EXISTS {trigger_name(spec.table, 'upd')} AFTER UPDATE ON {table} {guard} BEGIN "
        f"{insert} VALUES ('{name}', {key('NEW')}, 'U', {_NOW_SQLITE}); "
        f"{insert} SELECT '{name}', {key('OLD')}, 'U', {_NOW_SQLITE} WHERE {key('OLD')} <> {key('NEW')}; END",
        f"CREATE TRIGGER IF NOT EXISTS {trigger_name(spec.table, 'del')} AFTER DELETE ON {table} {guard} BEGIN "
        f"{insert} VALUES ('{name}', {key('OLD')}, 'D', {_NOW_SQLITE}); END",
    ]


def resolve(engine: Engine, logical_name: str, key_columns: Sequence[str]) -> CaptureSpec:
    table = reflect_table(engine, logical_name)
    columns = find_columns(table, key_columns)
    return CaptureSpec(logical_name=logical_name, table=table.name, key_columns=tuple(c.name for c in columns))


def install(engine: Engine, specs: Sequence[CaptureSpec]) -> list[str]:
    """Create the change table and the triggers (idempotent). Returns the trigger names now in place."""
    ensure_changes(engine)
    quote = engine.dialect.identifier_preparer.quote
    names = []
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text(PG_FUNCTION_SQL))
            for spec in specs:
                name = trigger_name(spec.table)
                args = ", ".join("'" + a.replace("'", "''") + "'" for a in (spec.logical_name, *spec.key_columns))
                conn.execute(text(f"DROP TRIGGER IF EXISTS {name} ON {quote(spec.table)}"))
                conn.execute(text(f"CREATE TRIGGER {name} AFTER INSERT OR UPDATE OR DELETE ON {quote(spec.table)} "
                                  f"FOR EACH ROW EXECUTE FUNCTION {PG_FUNCTION}({args})"))
                names.append(name)
        elif engine.dialect.name == "sqlite":
            for spec in specs:
                for statement in _sqlite_triggers(spec, quote):
                    conn.exec_driver_sql(statement)
                names += [trigger_name(spec.table, op) for op in ("ins", "upd", "del")]
        else:
            raise MigrationError(f"change capture supports SQLite and PostgreSQL, not {engine.dialect.name}")
    return names


def remove(engine: Engine, specs: Sequence[CaptureSpec], *, purge: bool = False) -> None:
    """Drop the triggers; with purge also the change log (and the PostgreSQL function if now unused)."""
    quote = engine.dialect.identifier_preparer.quote
    with engine.begin() as conn:
        for spec in specs:
            if engine.dialect.name == "postgresql":
                conn.execute(text(f"DROP TRIGGER IF EXISTS {trigger_name(spec.table)} ON {quote(spec.table)}"))
            else:
                for op in ("ins", "upd", "del"):
                    conn.exec_driver_sql(f"DROP TRIGGER IF EXISTS {trigger_name(spec.table, op)}")
        if purge:
            conn.execute(text(f"DROP TABLE IF EXISTS {CHANGES_TABLE}"))
            if engine.dialect.name == "postgresql":
                conn.execute(text(f"DROP FUNCTION IF EXISTS {PG_FUNCTION}() CASCADE"))


def installed(engine: Engine, specs: Sequence[CaptureSpec]) -> dict[str, bool]:
    """Table → whether its capture trigger(s) exist."""
    with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            present = {r[0] for r in conn.execute(text(
                "SELECT tgname FROM pg_trigger WHERE NOT tgisinternal AND tgname LIKE '\\_strangler\\_cap\\_%'"))}
            return {s.logical_name: trigger_name(s.table) in present for s in specs}
        present = {r[0] for r in conn.execute(text("SELECT name FROM sqlite_master WHERE type = 'trigger'"))}
        return {s.logical_name: all(trigger_name(s.table, op) in present for op in ("ins", "upd", "del"))
                for s in specs}


def has_change_log(engine: Engine) -> bool:
    return any(n.lower() == changes.name.lower() for n in inspect(engine).get_table_names())
