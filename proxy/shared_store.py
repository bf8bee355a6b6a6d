"""The shared store: route table, flip ledger (and the parity store, see proxy/parity/pgstore.py) in PostgreSQL,
so several façade instances serve ONE table.

Why this shape: the table stays a YAML *document* (the same text, validated by the same parse_table, edited by
the same comment-keeping round trip as the file), stored in one row with a version. A flip locks that row
(`SELECT ... FOR UPDATE`), validates, and compare-and-swaps on the version in the same transaction as its
ledger row and a NOTIFY; instances LISTEN and reload within milliseconds, with a slow poll of the version as a
fallback for a lost connection. Configure with ONE setting: STRANGLER_STORE_URL (or the façade option
`strangler_store`), e.g. postgresql+psycopg://user@127.0.0.1:5432/db?schema=strangler. Unset: the files.
SharedStore is the PostgreSQL TableStore (proxy/stores): open it with proxy.stores.open_table_store(url).
"""
from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import re
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from proxy.stores import URL_ENV, StoreError, TableDoc, digest, is_store_url

if TYPE_CHECKING:
    import psycopg

    from proxy.table import RouteTable

log = logging.getLogger("strangler.facade")
CHANNEL = "strangler_routes"
DEFAULT_SCHEMA = "strangler"
_IDENT = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
_DDL = """
CREATE TABLE IF NOT EXISTS route_table (name text PRIMARY KEY, version bigint NOT NULL, document text NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now(), updated_by text NOT NULL DEFAULT '');
CREATE TABLE IF NOT EXISTS flip_ledger (id bigserial PRIMARY KEY, ts timestamptz NOT NULL DEFAULT now(),
  feature text, record jsonb NOT NULL);
CREATE INDEX IF NOT EXISTS flip_ledger_feature ON flip_ledger (feature, id);
"""
_ROW = "routes"


@dataclass
class TableRow:
    version: int
    document: str


def _db[T](method: Callable[..., T]) -> Callable[..., T]:
    """A database error (a dropped connection, a missing right) becomes a StoreError saying so."""
    @functools.wraps(method)
    def wrapper(self: SharedStore, *args: Any, **kwargs: Any) -> T:
        import psycopg

        try:
            return method(self, *args, **kwargs)
        except psycopg.Error as exc:
            raise StoreError(f"the shared store {self} failed: {exc}".strip()
                             + "; check that PostgreSQL is running and reachable") from None
    return wrapper


@dataclass(eq=False)
class SharedStore:
    """One PostgreSQL schema holding the route table document, the ledger (and parity tables)."""

    pushes_changes = True  # LISTEN/NOTIFY: every façade hears of a flip at once; the poll is a fallback
    url: str
    conninfo: str = field(init=False)
    schema: str = field(init=False)
    _local: threading.local = field(init=False, repr=False, default_factory=threading.local)
    _ready: bool = field(init=False, repr=False, default=False)

    def __post_init__(self) -> None:
        if not is_store_url(self.url):
            raise StoreError(f"store URL {self.url!r} is not a PostgreSQL URL; use "
                             "postgresql+psycopg://USER@HOST:5432/DB[?schema=NAME] (or leave it unset for files)")
        parts = urlsplit(self.url)
        query = parse_qsl(parts.query, keep_blank_values=True)
        schema = next((v for k, v in query if k == "schema"), DEFAULT_SCHEMA).lower()
        if not _IDENT.match(schema):
            raise StoreError(f"schema {schema!r} in the store URL is not a plain SQL name; use letters, digits, _")
        self.schema = schema
        rest = urlencode([(k, v) for k, v in query if k != "schema"])
        self.conninfo = urlunsplit(("postgresql", parts.netloc, parts.path, rest, ""))

    def __str__(self) -> str:
        parts = urlsplit(self.conninfo)
        host = parts.hostname or ""
        user = f"{parts.username}@" if parts.username else ""
        port = f":{parts.port}" if parts.port else ""
        return f"postgresql://{user}{host}{port}{parts.path}?schema={self.schema}"  # never the password

    @property
    def ledger_name(self) -> str:
        return str(self)

    # ------------------------------------------------------------------ connections
    def connect(self, *, autocommit: bool = False) -> psycopg.Connection[Any]:
        import psycopg

        try:
            conn = psycopg.connect(self.conninfo, autocommit=autocommit, connect_timeout=10)
        except psycopg.Error as exc:
            raise StoreError(f"cannot connect to the shared store {self}: {exc}".strip()
                             + "; check STRANGLER_STORE_URL / --store and that PostgreSQL is running") from None
        conn.execute(f'SET search_path TO "{self.schema}"')
        if not autocommit:
            conn.commit()
        return conn

    @_db
    def ensure_schema(self) -> None:
        if self._ready:
            return
        with contextlib.closing(self.connect()) as conn, conn.transaction():
            conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{self.schema}"')
            conn.execute(f'SET LOCAL search_path TO "{self.schema}"')
            for stmt in filter(str.strip, _DDL.split(";")):
                conn.execute(stmt)
        self._ready = True

    # ------------------------------------------------------------------ the table document
    @_db
    def row(self) -> TableRow | None:
        """The stored row, None when no table was pushed yet."""
        self.ensure_schema()
        with contextlib.closing(self.connect(autocommit=True)) as conn:
            row = conn.execute("SELECT version, document FROM route_table WHERE name = %s", (_ROW,)).fetchone()
        return TableRow(row[0], row[1]) if row else None

    def read(self) -> TableDoc:
        row = self.row()
        if row is None:
            raise self._empty()
        return TableDoc(row.document, digest(row.document.encode("utf-8")), row.version)

    def load(self) -> RouteTable:
        from proxy.table import parse_table

        return parse_table(self.read_text(), source=str(self))

    def _empty(self) -> StoreError:
        return StoreError(f"the shared store {self} holds no route table yet; seed it with "
                          "`strangler routes push config/routes.yaml --store URL`")

    @_db
    def version(self) -> int | None:
        self.ensure_schema()
        with contextlib.closing(self.connect(autocommit=True)) as conn:
            row = conn.execute("SELECT version FROM route_table WHERE name = %s", (_ROW,)).fetchone()
        return row[0] if row else None

    def read_text(self) -> str:
        return self.read().text

    @_db
    def push(self, document: str, *, actor: str) -> int:
        """Replace the whole document (seeding or `routes push`); the caller validated it. New version."""
        self.ensure_schema()
        with contextlib.closing(self.connect()) as conn, conn.transaction():
            row = conn.execute(
                "INSERT INTO route_table (name, version, document, updated_by) VALUES (%s, 1, %s, %s) "
                "ON CONFLICT (name) DO UPDATE SET version = route_table.version + 1, document = excluded.document,"
                " updated_at = now(), updated_by = excluded.updated_by RETURNING version",
                (_ROW, document, actor)).fetchone()
            assert row is not None  # INSERT ... RETURNING always returns the row
            self._notify(conn, row[0])
        return int(row[0])

    @contextlib.contextmanager
    def locked(self) -> Iterator[_Edit]:
        """A transaction holding the table row locked: read `edit.text`, then `edit.write(text)` (CAS on the
        version). Ledger appends from this thread inside the block join the same transaction; a database
        error anywhere in the block rolls it all back and becomes a StoreError."""
        import psycopg

        try:
            self.ensure_schema()
            with contextlib.closing(self.connect()) as conn, conn.transaction():
                row = conn.execute("SELECT version, document FROM route_table WHERE name = %s FOR UPDATE",
                                   (_ROW,)).fetchone()
                if row is None:
                    raise StoreError(f"the shared store {self} holds no route table yet; seed it with "
                                     "`strangler routes push FILE --store URL`")
                edit = _Edit(self, conn, TableRow(row[0], row[1]))
                self._local.conn = conn
                try:
                    yield edit
                finally:
                    self._local.conn = None
        except psycopg.Error as exc:
            raise StoreError(f"the shared store {self} failed; nothing written: {exc}") from None

    def _notify(self, conn: psycopg.Connection[Any], version: int) -> None:
        conn.execute("SELECT pg_notify(%s, %s)", (CHANNEL, f"{self.schema}:{version}"))

    async def watch(self, changed: Callable[[], None], poll_s: Callable[[], float]) -> None:
        """LISTEN for flips made by any instance (reconnecting after a pause when the connection drops), and
        poll every `poll_s()` in case a notification was lost with a connection."""
        await asyncio.gather(self._listen(changed), self._poll(changed, poll_s))

    async def _listen(self, changed: Callable[[], None]) -> None:
        import psycopg

        while True:
            try:
                async with await psycopg.AsyncConnection.connect(self.conninfo, autocommit=True) as conn:
                    await conn.execute(f"LISTEN {CHANNEL}")
                    changed()  # catch up with whatever changed while we were not listening
                    async for note in conn.notifies():
                        if note.payload.split(":", 1)[0] == self.schema:
                            changed()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - keep listening; the poll covers the gap
                log.warning("shared store LISTEN connection lost (%s); retrying in 1 s", exc)
                await asyncio.sleep(1)

    @staticmethod
    async def _poll(changed: Callable[[], None], poll_s: Callable[[], float]) -> None:
        while True:
            await asyncio.sleep(poll_s())
            changed()

    # ------------------------------------------------------------------ the ledger
    @_db
    def append_ledger(self, data: dict[str, Any]) -> None:
        """Append one record; inside `locked()` (same thread) it commits or rolls back with the table edit."""
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            self._insert_ledger(conn, data)
            return
        self.ensure_schema()
        with contextlib.closing(self.connect()) as own, own.transaction():
            self._insert_ledger(own, data)

    @staticmethod
    def _insert_ledger(conn: psycopg.Connection[Any], data: dict[str, Any]) -> None:
        conn.execute("INSERT INTO flip_ledger (feature, record) VALUES (%s, %s::jsonb)",
                     (data.get("feature"), json.dumps(data, default=str, ensure_ascii=False)))

    @_db
    def read_ledger(self, feature: str | None = None, limit: int | None = None) -> list[dict[str, Any]]:
        """Records oldest -> newest (the same shape as the JSONL ledger)."""
        self.ensure_schema()
        args: list[object] = [feature] if feature is not None else []
        where = "WHERE feature = %s" if feature is not None else ""
        sql = f"SELECT record FROM flip_ledger {where} ORDER BY id DESC"
        if limit and limit > 0:
            sql += " LIMIT %s"
            args.append(limit)
        with contextlib.closing(self.connect(autocommit=True)) as conn:
            rows = conn.execute(sql, args).fetchall()
        return [r[0] for r in reversed(rows)]

    def drop(self) -> None:
        """Remove the whole schema (tests, or starting over)."""
        with contextlib.closing(self.connect(autocommit=True)) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{self.schema}" CASCADE')
        self._ready = False


@dataclass
class _Edit:
    store: SharedStore
    conn: Any
    row: TableRow
    written: int | None = None

    @property
    def text(self) -> str:
        return self.row.document

    def write(self, document: str, actor: str = "") -> int | None:
        cur = self.conn.execute(
            "UPDATE route_table SET version = version + 1, document = %s, updated_at = now(), updated_by = %s "
            "WHERE name = %s AND version = %s RETURNING version", (document, actor, _ROW, self.row.version))
        got = cur.fetchone()
        if got is None:  # cannot happen under FOR UPDATE; kept as the compare-and-swap guarantee
            raise StoreError("the route table changed while editing it; nothing written, try again")
        self.written = got[0]
        self.store._notify(self.conn, self.written)
        return self.written


# ---------------------------------------------------------------------- one object per URL
# (proxy.stores.open_table_store is the resolver; this memo only spares a second CREATE SCHEMA per URL)
_by_url: dict[str, SharedStore] = {}


def store_for(url: str) -> SharedStore:
    if url not in _by_url:
        _by_url[url] = SharedStore(url)
    return _by_url[url]


__all__ = ["CHANNEL", "URL_ENV", "SharedStore", "StoreError", "TableRow", "is_store_url", "store_for"]
