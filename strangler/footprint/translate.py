"""Port hand-written SQL and schema DDL between dialects with sqlglot, saying which statements need a human.

sqlglot is asked to raise on what it knows it cannot express (unsupported_level=RAISE). It passes some
source-only syntax through unchanged, so a few well-known cases are checked on the tree as well (SQLite's
PRAGMA, INSERT OR REPLACE/IGNORE, GLOB), and functions sqlglot does not know are flagged as warnings.
`metadata_ddl` dumps a SQLAlchemy app's schema as CREATE statements so the schema can be ported the same way.
"""
from __future__ import annotations

import importlib
import sys
from dataclasses import dataclass, field
from pathlib import Path

import sqlglot
from sqlglot import ErrorLevel, exp
from sqlglot.errors import ParseError, UnsupportedError

from strangler.footprint.normalise import split_statements


@dataclass
class Translated:
    source: str
    output: str | None = None
    error: str | None = None
    warnings: list[str] = field(default_factory=list)


def translate_script(text: str, read: str, write: str) -> list[Translated]:
    return [translate_statement(stmt, read, write) for stmt in split_statements(text)]


def translate_statement(sql: str, read: str, write: str) -> Translated:
    result = Translated(source=sql)
    try:
        trees = [t for t in sqlglot.parse(sql, read=read) if t is not None]
    except ParseError as exc:
        result.error = f"cannot parse as {read}: {_first(exc)}"
        return result
    problems = [p for tree in trees for p in _known_gaps(tree, read, write)]
    if problems:
        result.error = "; ".join(problems)
        return result
    try:
        outputs = [tree.sql(dialect=write, unsupported_level=ErrorLevel.RAISE, pretty=False) for tree in trees]
    except UnsupportedError as exc:
        result.error = f"not expressible in {write}: {_first(exc)}"
        return result
    except Exception as exc:  # noqa: BLE001 - generator bugs on odd input must not abort the whole file
        result.error = f"translation failed: {_first(exc)}"
        return result
    result.output = ";\n".join(outputs)
    result.warnings = sorted({f"function {f.name}() is unknown to sqlglot: check it exists in {write}"
                              for tree in trees for f in tree.find_all(exp.Anonymous)})
    return result


def _first(exc: Exception) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


def _known_gaps(tree: exp.Expr, read: str, write: str) -> list[str]:
    if read == write:
        return []
    problems = []
    if isinstance(tree, exp.Pragma) or (isinstance(tree, exp.Command) and tree.name.upper() == "PRAGMA"):
        problems.append(f"PRAGMA is {read}-specific: configure the {write} server/session instead")
    elif isinstance(tree, exp.Command):
        problems.append(f"sqlglot cannot parse this {tree.name.upper()} statement, so it cannot translate it")
    if isinstance(tree, exp.Insert) and tree.args.get("alternative") and write != "sqlite":
        problems.append(f"INSERT OR {str(tree.args['alternative']).upper()} has no {write} equivalent: rewrite "
                        "as INSERT ... ON CONFLICT")
    if write not in ("sqlite", "duckdb") and any(True for _ in tree.find_all(exp.Glob)):
        problems.append(f"GLOB does not exist in {write}: use LIKE or a regular expression")
    return problems


def metadata_ddl(spec: str) -> str:
    """CREATE TABLE/INDEX statements (SQLite dialect) for a SQLAlchemy MetaData named by "module:attr".

    `attr` may be a MetaData, a declarative base (anything with `.metadata`), or a zero-argument callable
    returning one of those.
    """
    from sqlalchemy import MetaData
    from sqlalchemy.dialects import sqlite
    from sqlalchemy.schema import CreateIndex, CreateTable

    module_name, _, attr = spec.partition(":")
    if not module_name or not attr:
        raise ValueError(f"--metadata {spec!r}: expected module:attr, e.g. myapp.models:Base")
    if "" not in sys.path and str(Path.cwd()) not in sys.path:
        sys.path.insert(0, str(Path.cwd()))
    try:
        target = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        raise ValueError(f"--metadata {spec!r}: cannot load it ({exc}). Fix: run from your project root "
                         "and name an importable module and attribute") from None
    if callable(target) and not isinstance(target, MetaData) and not hasattr(target, "metadata"):
        target = target()
    metadata = target if isinstance(target, MetaData) else getattr(target, "metadata", None)
    if not isinstance(metadata, MetaData):
        raise ValueError(f"--metadata {spec!r} is not a SQLAlchemy MetaData or declarative base")
    dialect = sqlite.dialect()
    statements = []
    for table in metadata.sorted_tables:
        statements.append(str(CreateTable(table).compile(dialect=dialect)).strip())
        statements += [str(CreateIndex(index).compile(dialect=dialect)).strip() for index in table.indexes]
    return ";\n\n".join(statements) + (";\n" if statements else "")
