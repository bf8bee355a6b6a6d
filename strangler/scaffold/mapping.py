"""`strangler add mapping TABLE`: a commented TableMapping module written from the legacy table's real
columns (SQLAlchemy reflection of the project's migration source), so nobody starts from a docstring.

The skeleton is a working identity mapping (same column names, lower-cased, generic types): backfill and
verify run on it at once; the comments say what to change and what verify proves without domain functions.
"""
from __future__ import annotations

import keyword
import re
from pathlib import Path

from sqlalchemy import Table
from sqlalchemy.engine import make_url

from strangler.scaffold.discover import ScaffoldError


def reflect(url: str, name: str) -> Table:
    """The legacy table as the database describes it; ScaffoldError (one line) if it cannot be read."""
    from strangler.migrate.db import MigrationError, open_engine, reflect_table

    shown = make_url(url).render_as_string(hide_password=True)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:") \
            and not Path(parsed.database).is_file():
        raise ScaffoldError(f"the legacy database {shown} does not exist. Fix: point the source URL at the "
                            "app's database file (an absolute sqlite:////path/app.db)")
    engine = open_engine(url)
    try:
        return reflect_table(engine, name)
    except MigrationError as exc:
        raise ScaffoldError(f"{exc}. Fix: name a table of that database") from None
    except Exception as exc:  # noqa: BLE001 - a driver error (unreachable server, bad credentials) as one line
        raise ScaffoldError(f"cannot read {shown} ({type(exc).__name__}: {str(exc).splitlines()[0]}). Fix: "
                            "check the source database URL and that the database is up") from None
    finally:
        engine.dispose()


def attribute_name(table: str) -> str:
    name = re.sub(r"\W+", "_", table).strip("_").upper() or "TABLE"
    return f"T_{name}" if name[0].isdigit() or keyword.iskeyword(name) else name


def module_name(table: str) -> str:
    name = re.sub(r"\W+", "_", table).strip("_").lower() or "table"
    return f"t_{name}" if name[0].isdigit() or keyword.iskeyword(name) else name


def _generic(column: object) -> tuple[str, str]:
    """(constructor text, class name) of the column's generic SQLAlchemy type."""
    try:
        generic = column.type.as_generic()  # type: ignore[attr-defined]
    except NotImplementedError:
        return "String()", "String"
    return repr(generic), type(generic).__name__


def skeleton(table: Table, *, feature: str, ref: str, source: str) -> str:
    attr = ref.rpartition(":")[2]
    pk = [c.name for c in table.primary_key.columns]
    key = pk or [next(iter(table.columns)).name]
    key_note = "" if pk else "  # EDIT: the table has no primary key; name a unique, sortable column"
    types, columns, values = set(), [], []
    for col in table.columns:
        ctor, cls = _generic(col)
        types.add(cls)
        flags = (", primary_key=True" if col.name in key else "") + ("" if col.nullable or col.name in key
                                                                     else ", nullable=False")
        legacy = f"{col.type}{'' if col.nullable else ' NOT NULL'}"
        columns.append(f"    Column({col.name.lower()!r}, {ctor}{flags}),  # legacy {col.name}: {legacy}")
        values.append(f"        {col.name.lower()!r}: row[{col.name!r}],")
    source_key = repr(key[0]) if len(key) == 1 else repr(tuple(key))
    target_key = repr(tuple(k.lower() for k in key))
    imports = ", ".join(sorted({"Column", "MetaData", "Table", *types}))
    return f'''"""Data-migration mapping of feature {feature!r}: legacy table {table.name} -> the service's table {table.name.lower()!r}.

Written by `strangler add mapping` from the table's real columns, read from
    {source}
and registered in config/migrations.yaml as "{ref}". As written it copies every column unchanged: edit it.

- TARGET is the service's table. `strangler migrate backfill {feature}` creates it in the target database when
  it does not exist yet; if your service creates it (its own migrations), keep these columns in step with it.
- translate(): one legacy row -> TARGET's values. Rows match legacy column names case-insensitively; reading
  a column the row lacks quarantines that row with a one-line reason. Raise ValueError (with the field and
  why) for a row the service cannot hold: backfill quarantines it and carries on.
- Before `strangler migrate handover {feature} --writes service`, add `to_source=` (a TARGET row -> legacy
  column values) so reverse sync keeps legacy readers working.
- verify: without `source_domain`/`target_domain` it proves only that TARGET == translate(legacy row) — a
  translate that is consistently wrong passes. Give both (either side's row -> the same domain dict) to
  compare domain objects instead. Reference: docs/how-to/migrate-data.md.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import {imports}

from strangler.migrate.mapping import TableMapping

TARGET = Table(
    {table.name.lower()!r}, MetaData(),
{chr(10).join(columns)}
)


def translate(row: Mapping[str, Any]) -> dict[str, Any]:
    """One legacy {table.name} row -> TARGET's column values."""
    return {{
{chr(10).join(values)}
    }}


{attr} = TableMapping(source_table={table.name!r}, source_key={source_key}, target=TARGET,{key_note}
{" " * (len(attr) + 16)}translate=translate, target_key={target_key})
'''
