"""What one SQL shape reads and writes, found with sqlglot's scope analysis.

Scope-aware on purpose: a CTE name or a subquery alias looks like a table in the text but is not one, and
counting it would invent coupling. INSERT/UPDATE/DELETE/MERGE targets (and DDL objects) are writes; an
UPDATE whose SET reads the row (`SET x = x + 1`) also reads its target. Columns are attributed where the
qualifier (or a single-table scope) makes the table certain; otherwise they are left out, never guessed.
"""
from __future__ import annotations

import logging
from collections.abc import Set
from dataclasses import dataclass, field

import sqlglot
from sqlglot import exp
from sqlglot.optimizer.scope import Scope, traverse_scope

#: Catalog/system objects that say nothing about application coupling.
SYSTEM_SCHEMAS = frozenset({"information_schema", "pg_catalog", "sys", "mysql", "performance_schema"})
SYSTEM_PREFIXES = ("sqlite_", "pg_")

logging.getLogger("sqlglot").setLevel(logging.ERROR)  # it warns on fallback parses; we report those ourselves


@dataclass
class Facts:
    """Tables (→ columns) one shape reads and writes; `error` set when it could not be analysed."""

    kind: str = "other"
    reads: dict[str, set[str]] = field(default_factory=dict)
    writes: dict[str, set[str]] = field(default_factory=dict)
    error: str | None = None

    def read(self, table: str, column: str | None = None) -> None:
        cols = self.reads.setdefault(table, set())
        if column:
            cols.add(column)

    def write(self, table: str, column: str | None = None) -> None:
        cols = self.writes.setdefault(table, set())
        if column:
            cols.add(column)


_KINDS: tuple[tuple[type[exp.Expr], str], ...] = (
    (exp.Insert, "insert"), (exp.Update, "update"), (exp.Delete, "delete"), (exp.Merge, "merge"),
    (exp.Query, "select"), (exp.Create, "ddl"), (exp.Drop, "ddl"), (exp.Alter, "ddl"),
    (exp.TruncateTable, "ddl"),
)


_STATEMENTS = tuple(cls for cls, _ in _KINDS) + (exp.Values, exp.Grant, exp.Use, exp.Copy, exp.Describe)


def analyse(shape: str, dialect: str | None = None) -> Facts:
    """Facts for one normalised statement (or a `;`-separated few). Never raises: errors land in `.error`."""
    try:
        statements = [s for s in sqlglot.parse(shape, read=dialect or None) if s is not None]
    except Exception as exc:  # noqa: BLE001 - sqlglot raises ParseError, TokenError and, on odd input, others
        return Facts(kind="error", error=_first_line(exc))
    if not statements:
        return Facts(kind="error", error="empty statement")
    facts = Facts()
    for stmt in statements:
        if isinstance(stmt, exp.Command):
            return Facts(kind="error", error=f"not analysable: sqlglot read '{stmt.name}' as an opaque command")
        if not isinstance(stmt, _STATEMENTS):
            return Facts(kind="error", error=f"not a recognised statement (parsed as {type(stmt).__name__})")
        try:
            _collect(stmt, facts)
        except Exception as exc:  # noqa: BLE001 - an analysis bug must not stop a million-statement run
            return Facts(kind="error", error=f"analysis failed: {_first_line(exc)}")
    return facts


def _first_line(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}"[:300]


def _collect(stmt: exp.Expr, facts: Facts) -> None:
    kind = next((name for cls, name in _KINDS if isinstance(stmt, cls)), "other")
    if facts.kind in ("other", "select") or kind not in ("other", "select"):
        facts.kind = kind
    targets = _write_targets(stmt, facts)
    target_ids = {id(t) for t in targets}
    seen: set[int] = set(target_ids)
    cte_names = {cte.alias_or_name.lower() for cte in stmt.find_all(exp.CTE)}
    try:
        scopes = traverse_scope(stmt)
    except Exception:  # noqa: BLE001 - sqlglot's scope walk fails on odd trees: tables are still found below
        scopes = []
    for scope in scopes:
        for source in scope.sources.values():
            if isinstance(source, exp.Table) and id(source) not in target_ids:
                seen.add(id(source))
                if _is_app_table(source):
                    facts.read(source.name)
        for column in scope.columns:
            table = _resolve(scope, column)
            if table is not None and id(table) not in target_ids and _is_app_table(table):
                facts.read(table.name, column.name)
        starred = [_resolve(scope, s) for s in scope.stars if isinstance(s, exp.Column) and s.table]
        for table in [t for t in starred if t is not None] + _star_tables(scope):
            if id(table) not in target_ids and _is_app_table(table):
                facts.read(table.name, "*")
    if isinstance(stmt, exp.DDL):
        return
    # Tables the scope walk does not reach (vendor syntax): anything left that is not a CTE reference.
    for table in stmt.find_all(exp.Table):
        if id(table) in seen or not table.name or not _is_app_table(table):
            continue
        if table.name.lower() in cte_names and not table.db:
            continue
        if isinstance(table.parent, (exp.Schema, exp.Column)):
            continue
        facts.read(table.name)


def _write_targets(stmt: exp.Expr, facts: Facts) -> list[exp.Table]:
    """Record write targets (and target columns) of DML/DDL; return their Table nodes."""
    if isinstance(stmt, exp.Insert):
        target, columns = _table_and_columns(stmt.this)
        if target is None:
            return []
        _write(facts, target, columns)
        conflict = stmt.args.get("conflict")
        if isinstance(conflict, exp.OnConflict):
            _assignment_reads(conflict.expressions or [], target, facts, skip_qualifiers={"excluded"})
        return [target]
    if isinstance(stmt, exp.Update):
        target = stmt.this if isinstance(stmt.this, exp.Table) else stmt.this.find(exp.Table)
        if target is None:
            return []
        _write(facts, target, [_assigned(eq) for eq in stmt.expressions])
        _assignment_reads(stmt.expressions, target, facts)
        return [target]
    if isinstance(stmt, exp.Delete):
        target = stmt.this if isinstance(stmt.this, exp.Table) else stmt.find(exp.Table)
        if target is None:
            return []
        _write(facts, target, [])
        return [target]
    if isinstance(stmt, exp.Merge):
        target = stmt.this if isinstance(stmt.this, exp.Table) else stmt.this.find(exp.Table)
        if target is None:
            return []
        columns = []
        for when in stmt.find_all(exp.When):
            then = when.args.get("then")
            if isinstance(then, exp.Update):
                columns += [_assigned(eq) for eq in then.expressions]
            elif isinstance(then, exp.Insert) and isinstance(then.this, exp.Tuple):
                columns += [c.name for c in then.this.expressions]
        _write(facts, target, columns)
        return [target]
    if isinstance(stmt, (exp.Create, exp.Drop, exp.Alter, exp.TruncateTable)):
        node = stmt.this
        tables = [node] if isinstance(node, exp.Table) else []
        if not tables and node is not None:
            found = node.find(exp.Table) if isinstance(node, exp.Expr) else None
            tables = [found] if found is not None else []
        if isinstance(stmt, exp.Create) and isinstance(node, exp.Index):
            indexed = node.args.get("table")
            tables = [indexed] if isinstance(indexed, exp.Table) else tables
        if isinstance(stmt, (exp.TruncateTable, exp.Drop)):
            listed = stmt.expressions if isinstance(stmt, exp.TruncateTable) else stmt.args.get("tables") or []
            tables = [t for t in listed if isinstance(t, exp.Table)] or tables
        for table in tables:
            _write(facts, table, [])
        return tables
    return []


def _table_and_columns(node: exp.Expr | None) -> tuple[exp.Table | None, list[str | None]]:
    if isinstance(node, exp.Schema) and isinstance(node.this, exp.Table):
        return node.this, [c.name for c in node.expressions]
    if isinstance(node, exp.Table):
        return node, []
    return None, []


def _assigned(eq: exp.Expr) -> str | None:
    left = eq.this if isinstance(eq, exp.EQ) else None
    return left.name if isinstance(left, (exp.Column, exp.Identifier)) else None


def _write(facts: Facts, table: exp.Table, columns: list[str | None]) -> None:
    if not _is_app_table(table):
        return
    facts.write(table.name)
    for col in columns:
        if col:
            facts.write(table.name, col)


def _assignment_reads(assignments: list[exp.Expr], target: exp.Table, facts: Facts,
                      skip_qualifiers: Set[str] = frozenset()) -> None:
    """`SET x = x + 1` reads the target's current row: record target columns used on the right-hand side."""
    names = {target.name.lower(), target.alias_or_name.lower()}
    for eq in assignments:
        value = eq.expression if isinstance(eq, exp.EQ) else None
        if value is None:
            continue
        for column in value.find_all(exp.Column):
            if _inside_query(column, eq):
                continue  # a subquery's own columns belong to its scope, handled there
            qualifier = column.table.lower()
            if qualifier in skip_qualifiers:
                continue
            if (not qualifier or qualifier in names) and _is_app_table(target):
                facts.read(target.name, column.name)


def _inside_query(node: exp.Expr, stop: exp.Expr) -> bool:
    parent = node.parent
    while parent is not None and parent is not stop:
        if isinstance(parent, exp.Query):
            return True
        parent = parent.parent
    return False


def _resolve(scope: Scope, column: exp.Column) -> exp.Table | None:
    """The physical table a column belongs to, when certain: its qualifier names a table source in this or an
    enclosing scope, or it is unqualified and the scope has exactly one source, a table."""
    qualifier = column.table
    current: Scope | None = scope
    if qualifier:
        while current is not None:
            source = current.sources.get(qualifier)
            if source is not None:
                return source if isinstance(source, exp.Table) else None
            current = current.parent
        return None
    selected = scope.selected_sources
    if len(selected) == 1:
        (_, source), = selected.values()
        if isinstance(source, exp.Table):
            return source
    return None


def _star_tables(scope: Scope) -> list[exp.Table]:
    """Tables whose every column a bare `SELECT *` reads."""
    if not isinstance(scope.expression, exp.Select):
        return []
    if not any(isinstance(e, exp.Star) for e in scope.expression.expressions):
        return []
    return [source for _, source in scope.selected_sources.values() if isinstance(source, exp.Table)]


def _is_app_table(table: exp.Table) -> bool:
    name = table.name.lower()
    if not name or (table.db and table.db.lower() in SYSTEM_SCHEMAS):
        return False
    return not name.startswith(SYSTEM_PREFIXES)
