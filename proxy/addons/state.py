"""Options of the façade and the live route table: loaded in `configure`, hot-reloaded by a poll task.

Startup with a bad table fails with OptionsError (mitmdump exits, printing "<file>:<line>: problem. Fix: ...").
After startup an invalid edit is logged and counted, and the last good snapshot keeps serving. The poll
compares (mtime, size, inode) first and only reads + hashes the file when they change, so polling is cheap.

With a shared store (option `strangler_store`, else $STRANGLER_STORE_URL) the table document lives in
PostgreSQL (proxy/shared_store.py): the façade LISTENs for the flip's NOTIFY and reloads at once, and also
polls the version every `strangler_store_poll_ms` in case a notification was lost with a connection.
`routes_path` is then the SharedStore itself, so the admin API and rollback flip it through the same
flip_feature path (row lock + compare-and-swap + ledger row in one transaction).
"""
from __future__ import annotations

import asyncio
import hashlib
import logging
import os
from collections.abc import Callable
from pathlib import Path

from mitmproxy import ctx, exceptions

from proxy import shared_store
from proxy.addons.snapshot import Snapshot, compile_snapshot
from proxy.metrics import FacadeMetrics
from proxy.shared_store import SharedStore, StoreError
from proxy.table import RouteTable, TableError, parse_table

log = logging.getLogger("strangler.facade")


class FacadeState:
    """Owns the current Snapshot and the façade's options; other addons read `state.current`."""

    def __init__(self, metrics: FacadeMetrics | None = None):
        self.metrics = metrics or FacadeMetrics()
        self.current: Snapshot | None = None
        self.routes_path: Path | SharedStore | None = None
        self.store: SharedStore | None = None
        self._store_version = 0
        self._store_tasks: list[asyncio.Task] = []
        self._refresh = asyncio.Event()
        self._bad_digest_pending: str | None = None
        self.last_error: str | None = None
        self._stat: tuple | None = None
        self._bad_digest: str | None = None
        self._poll_task: asyncio.Task | None = None
        self._listeners: list[Callable[[Snapshot], None]] = []

    # ---------------------------------------------------------------- mitmproxy hooks
    def load(self, loader) -> None:
        loader.add_option("strangler_routes", str, "", "Route table YAML file of the strangler façade.")
        loader.add_option("strangler_admin_host", str, "127.0.0.1",
                          "Admin API listen address (loopback only).")
        loader.add_option("strangler_admin_port", int, 0,
                          "Admin API port; 0 disables it. Needs STRANGLER_ADMIN_TOKEN (>= 16 chars) in the env.")
        loader.add_option("strangler_access_log", str, "",
                          "File for one JSON line per request; empty disables the access log.")
        loader.add_option("strangler_reload_ms", int, 500,
                          "How often (milliseconds) to check the route table file for changes; 0 disables.")
        loader.add_option("strangler_store", str, "",
                          "Shared PostgreSQL store for the route table and ledger, e.g. postgresql+psycopg://"
                          "user@127.0.0.1:5432/db?schema=strangler; empty = $STRANGLER_STORE_URL, else the files.")
        loader.add_option("strangler_store_poll_ms", int, 2000,
                          "Shared store: fallback poll of the table version (milliseconds) besides LISTEN/NOTIFY.")

    def configure(self, updated: set[str]) -> None:
        if "strangler_store" in updated:
            url = ctx.options.strangler_store.strip() or os.environ.get(shared_store.URL_ENV, "").strip()
            if url:
                self._configure_store(url)
        if "strangler_routes" in updated and self.store is None:
            raw = ctx.options.strangler_routes
            if not raw:
                raise exceptions.OptionsError(
                    "the strangler façade needs a route table: add --set strangler_routes=config/routes.yaml")
            path = Path(raw)
            try:
                self._load(path, force=True)
            except TableError as exc:
                raise exceptions.OptionsError(f"route table rejected:\n{exc}") from None
            self.routes_path = path
        if "strangler_reload_ms" in updated and ctx.options.strangler_reload_ms < 0:
            raise exceptions.OptionsError("strangler_reload_ms must be >= 0 (0 disables hot reload)")

    def _configure_store(self, url: str) -> None:
        try:
            store = shared_store.store_for(url)
            row = store.read()
        except StoreError as exc:
            raise exceptions.OptionsError(str(exc)) from None
        if row is None:
            raise exceptions.OptionsError(f"the shared store {store} holds no route table yet; seed it with "
                                          f"`strangler routes push config/routes.yaml --store URL`")
        try:
            table = parse_table(row.document, source=str(store))
        except TableError as exc:
            raise exceptions.OptionsError(f"route table in {store} rejected:\n{exc}") from None
        self.store, self.routes_path = store, store
        shared_store.configure(store)  # the admin API's ledger reads/writes go to the store too
        self._store_version = row.version
        self._swap(table, _digest(row.document.encode()))

    def running(self) -> None:
        if self.store is not None:
            if not self._store_tasks:
                loop = asyncio.get_running_loop()
                self._store_tasks = [loop.create_task(self._listen(), name="strangler store listen"),
                                     loop.create_task(self._store_refresher(), name="strangler store reload"),
                                     loop.create_task(self._store_poll(), name="strangler store poll")]
            return
        if ctx.options.strangler_reload_ms > 0 and self._poll_task is None:
            self._poll_task = asyncio.get_running_loop().create_task(self._poll(), name="strangler table reload")

    async def done(self) -> None:
        for task in self._store_tasks:
            task.cancel()
        self._store_tasks = []
        if self._poll_task is not None:
            self._poll_task.cancel()
            self._poll_task = None

    # ---------------------------------------------------------------- reload
    def on_swap(self, listener: Callable[[Snapshot], None]) -> None:
        self._listeners.append(listener)

    def reload(self) -> bool:
        """Re-read the table now (used by the admin API after a flip). True when it is (now) valid."""
        if self.store is not None:
            try:
                parsed = self._read_and_parse_store()
            except TableError as exc:
                self._reject(exc)
                return False
            except Exception as exc:  # noqa: BLE001 - a store outage must not break the admin call
                log.error("cannot reload the route table from %s: %s", self.store, exc)
                return False
            if parsed is not None:
                self._swap_store(*parsed)
            return True
        if self.routes_path is None:
            return False
        try:
            self._load(self.routes_path, force=False)
            return True
        except TableError as exc:
            self._reject(exc)
            return False

    def _load(self, path: Path, force: bool) -> None:
        parsed = self._read_and_parse(path, force)
        if parsed is not None:
            self._swap(*parsed)
        else:
            self._in_force()

    def _read_and_parse(self, path: Path, force: bool) -> tuple[RouteTable, str] | None:
        """Read + validate (no shared state touched but the stat/digest memo): safe to run in a thread.
        None: the file is the table in force (the caller clears a reported error: a broken edit reverted)."""
        try:
            stat = os.stat(path)
            data = path.read_bytes()
        except OSError as exc:
            raise _read_error(path, exc) from None
        digest = _digest(data)
        self._stat = (stat.st_mtime_ns, stat.st_size, stat.st_ino)
        if not force and self.current is not None and digest == self.current.digest:
            return None
        if not force and digest == self._bad_digest:
            raise _SameBad(self.last_error or "")
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise _read_error(path, exc) from None
        return parse_table(text, source=str(path)), digest

    def _swap(self, table: RouteTable, digest: str) -> None:
        """Compile and publish in one assignment (on the event loop thread)."""
        self.current = compile_snapshot(table, digest, self.current)
        self._in_force()
        self.metrics.reloads.inc()
        self.metrics.table_version.set(self.current.version)
        for listener in self._listeners:
            listener(self.current)
        if self.current.version > 1:
            log.info("route table reloaded (version %d) from %s", self.current.version, self.routes_path)

    # ---------------------------------------------------------------- shared store
    def _read_and_parse_store(self) -> tuple[RouteTable, str, int] | None:
        """Fetch the document when its version is newer than ours; parse it (thread-safe, no swap)."""
        assert self.store is not None
        row = self.store.read()
        if row is None or row.version <= self._store_version:
            return None
        digest = _digest(row.document.encode())
        if digest == self._bad_digest:
            raise _SameBad(self.last_error or "")
        if self.current is not None and digest == self.current.digest:
            return self.current.table, digest, row.version
        try:
            return parse_table(row.document, source=str(self.store)), digest, row.version
        except TableError:
            self._bad_digest_pending = digest
            raise

    def _swap_store(self, table: RouteTable, digest: str, version: int) -> None:
        if version <= self._store_version:
            return  # an older read finishing late: the newer table stays
        self._store_version = version
        if self.current is None or digest != self.current.digest:
            self._swap(table, digest)
        else:
            self._in_force()

    def _in_force(self) -> None:
        """The source holds the table in force again (also after a byte-identical revert of a broken edit):
        nothing is wrong any more, so nothing is reported."""
        self._bad_digest, self.last_error = None, None

    async def _listen(self) -> None:
        """LISTEN for flips made by any instance; reconnect with a pause when the connection drops."""
        import psycopg

        assert self.store is not None
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(self.store.conninfo, autocommit=True) as conn:
                    await conn.execute(f"LISTEN {shared_store.CHANNEL}")
                    self._refresh.set()  # catch up with whatever changed while we were not listening
                    async for note in conn.notifies():
                        if note.payload.split(":", 1)[0] == self.store.schema:
                            self._refresh.set()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - keep listening; the poll covers the gap
                log.warning("shared store LISTEN connection lost (%s); retrying in 1 s", exc)
                await asyncio.sleep(1)

    async def _store_poll(self) -> None:
        while True:
            await asyncio.sleep(max(ctx.options.strangler_store_poll_ms, 100) / 1000)
            self._refresh.set()

    async def _store_refresher(self) -> None:
        while True:
            await self._refresh.wait()
            self._refresh.clear()
            try:
                parsed = await asyncio.to_thread(self._read_and_parse_store)
                if parsed is not None:
                    self._swap_store(*parsed)
            except TableError as exc:
                self._reject(exc)
            except Exception as exc:  # noqa: BLE001 - never let the reload task die
                log.warning("cannot reload the route table from %s: %s", self.store, exc)

    def _reject(self, exc: TableError) -> None:
        if isinstance(exc, _SameBad):
            return  # already logged and counted for this exact content
        self.last_error = str(exc)
        self.metrics.reload_errors.inc()
        if self.store is not None:
            self._bad_digest = self._bad_digest_pending
        elif self.routes_path is not None:
            try:
                self._bad_digest = hashlib.blake2b(self.routes_path.read_bytes(), digest_size=16).hexdigest()
            except OSError:
                self._bad_digest = None
        log.error("route table edit rejected, still serving version %s:\n%s",
                  self.current.version if self.current else "-", exc)

    async def _poll(self) -> None:
        while True:
            await asyncio.sleep(max(ctx.options.strangler_reload_ms, 50) / 1000)
            path = self.routes_path
            if path is None:
                continue
            try:
                stat = os.stat(path)
                key = (stat.st_mtime_ns, stat.st_size, stat.st_ino)
            except OSError:
                key = None
            if key == self._stat:
                continue
            try:  # validation of a big table takes a while: keep it off the event loop
                version = self.current.version if self.current else 0
                parsed = await asyncio.to_thread(self._read_and_parse, path, False)
                current = self.current.version if self.current else 0
                if parsed is not None and self.routes_path == path and current == version:
                    self._swap(*parsed)  # (if a flip reloaded meanwhile, its newer table stays)
                elif parsed is not None:
                    self._stat = None  # look again on the next tick
                elif self.routes_path == path and current == version:
                    self._in_force()
            except TableError as exc:
                self._reject(exc)
            except Exception:  # never let the poll task die
                log.exception("unexpected error while reloading the route table")


def _digest(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=16).hexdigest()


class _SameBad(TableError):
    def __init__(self, message: str):
        ValueError.__init__(self, message)
        self.file, self.issues, self.line, self.problem, self.fix = "", [], None, message, ""


def _read_error(path: Path, exc: Exception) -> TableError:
    from proxy.table import TableIssue

    return TableError(str(path), [TableIssue(None, f"cannot read the route table ({exc})",
                                             "check the path given in strangler_routes")])
