"""Options of the façade and the live route table: loaded in `configure`, hot-reloaded as it changes.

Startup with a bad table fails with OptionsError (mitmdump exits, printing "<file>:<line>: problem. Fix: ...").
After startup an invalid edit is logged and counted, and the last good snapshot keeps serving.

The table lives in one TableStore (proxy/stores), resolved once here from the options: the YAML file of
`strangler_routes`, or the shared PostgreSQL store of `strangler_store` (else $STRANGLER_STORE_URL). The store
watches itself (the file: (mtime, size, inode) polled every `strangler_reload_ms`, read only when they change;
PostgreSQL: LISTEN/NOTIFY plus a poll every `strangler_store_poll_ms`) and wakes one refresher, which reads,
compares digests and swaps. `routes_path` is that store, so the admin API and rollback flip it through the
same flip_feature path (lock + atomic write or compare-and-swap + ledger record together).
"""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from mitmproxy import ctx, exceptions

from proxy.addons.snapshot import Snapshot, compile_snapshot
from proxy.metrics import FacadeMetrics
from proxy.stores import StoreError, TableStore, open_table_store, shared_url
from proxy.table import RouteTable, TableError, parse_table

if TYPE_CHECKING:
    from proxy.flips import Gate

log = logging.getLogger("strangler.facade")


class FacadeState:
    """Owns the current Snapshot, the table's store and the façade's options; other addons read `state.current`."""

    def __init__(self, metrics: FacadeMetrics | None = None):
        self.metrics = metrics or FacadeMetrics()
        self.current: Snapshot | None = None
        self.store: TableStore | None = None
        self.store_url = ""  # the shared store's URL ("" = files): parity counts follow it (proxy.parity.store)
        self.gates: tuple[Gate, ...] = ()  # the flip gates the admin API applies (proxy.addons.gates)
        self.last_error: str | None = None
        self._bad_digest: str | None = None
        self._bad_digest_pending: str | None = None
        self._refresh = asyncio.Event()
        self._tasks: list[asyncio.Task] = []
        self._listeners: list[Callable[[Snapshot], None]] = []

    @property
    def routes_path(self) -> TableStore | None:
        """The store flips edit (a file path or the shared store, shown as such)."""
        return self.store

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
        if updated & {"strangler_routes", "strangler_store"}:
            self._configure_store()
        if "strangler_reload_ms" in updated and ctx.options.strangler_reload_ms < 0:
            raise exceptions.OptionsError("strangler_reload_ms must be >= 0 (0 disables hot reload)")

    def _configure_store(self) -> None:
        url = shared_url(ctx.options.strangler_store)
        location = url or ctx.options.strangler_routes
        if not location:
            raise exceptions.OptionsError(
                "the strangler façade needs a route table: add --set strangler_routes=config/routes.yaml")
        try:
            store = open_table_store(location, shared=bool(url))  # a store URL is never taken for a file
            parsed = self._read_and_parse(store, force=True)
        except StoreError as exc:
            raise exceptions.OptionsError(str(exc)) from None
        except TableError as exc:
            raise exceptions.OptionsError(f"route table rejected:\n{exc}") from None
        watching = bool(self._tasks)
        if watching:  # changed while running: watch the new store instead
            for task in self._tasks:
                task.cancel()
            self._tasks = []
        self.store, self.store_url = store, url
        if parsed is not None:
            self._swap(*parsed)
        if watching:
            self.running()

    def running(self) -> None:
        store = self.store
        if store is None or self._tasks:
            return
        if not store.pushes_changes and ctx.options.strangler_reload_ms <= 0:
            return  # hot reload disabled
        loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(store.watch(self._refresh.set, self._poll_s), name="strangler table watch"),
                       loop.create_task(self._refresher(), name="strangler table reload")]

    def _poll_s(self) -> float:
        if self.store is not None and self.store.pushes_changes:
            return max(ctx.options.strangler_store_poll_ms, 100) / 1000
        return max(ctx.options.strangler_reload_ms, 50) / 1000

    async def done(self) -> None:
        for task in self._tasks:
            task.cancel()
        self._tasks = []

    # ---------------------------------------------------------------- reload
    def on_swap(self, listener: Callable[[Snapshot], None]) -> None:
        self._listeners.append(listener)

    def reload(self) -> bool:
        """Re-read the table now (used by the admin API after a flip). True when it is (now) valid."""
        if self.store is None:
            return False
        try:
            self._publish(self._read_and_parse(self.store, force=False))
            return True
        except TableError as exc:
            self._reject(exc)
        except StoreError as exc:
            self._unreadable(exc)
        return False

    def _read_and_parse(self, store: TableStore, force: bool) -> tuple[RouteTable, str] | None:
        """Read + validate (no shared state touched but the bad-digest memo): safe to run in a thread.
        None: the store holds the table in force (the caller clears a reported error: a broken edit reverted)."""
        doc = store.read()
        if not force and self.current is not None and doc.digest == self.current.digest:
            return None
        if not force and doc.digest == self._bad_digest:
            raise _SameBad(self.last_error or "")
        try:
            return parse_table(doc.text, source=str(store)), doc.digest
        except TableError:
            self._bad_digest_pending = doc.digest
            raise

    def _publish(self, parsed: tuple[RouteTable, str] | None) -> None:
        if parsed is None:
            self._in_force()
        else:
            self._swap(*parsed)

    def _swap(self, table: RouteTable, digest: str) -> None:
        """Compile and publish in one assignment (on the event loop thread)."""
        self.current = compile_snapshot(table, digest, self.current)
        self._in_force()
        self.metrics.reloads.inc()
        self.metrics.table_version.set(self.current.version)
        for listener in self._listeners:
            listener(self.current)
        if self.current.version > 1:
            log.info("route table reloaded (version %d) from %s", self.current.version, self.store)

    def _in_force(self) -> None:
        """The store holds the table in force again (also after a byte-identical revert of a broken edit):
        nothing is wrong any more, so nothing is reported."""
        self._bad_digest, self.last_error = None, None

    async def _refresher(self) -> None:
        """Read the table whenever the store's watch says it may have changed; never dies."""
        while True:
            await self._refresh.wait()
            self._refresh.clear()
            store, seen = self.store, self.current.version if self.current else 0
            if store is None:
                continue
            try:  # validation of a big table takes a while: keep it off the event loop
                parsed = await asyncio.to_thread(self._read_and_parse, store, False)
            except TableError as exc:
                self._reject(exc)
                continue
            except StoreError as exc:
                self._unreadable(exc)
                continue
            except Exception:  # never let the reload task die (logged with its traceback)
                log.exception("unexpected error while reloading the route table from %s", store)
                continue
            if store is not self.store or (self.current.version if self.current else 0) != seen:
                self._refresh.set()  # a flip reloaded meanwhile: its newer table stays; read again
                continue
            self._publish(parsed)

    def _reject(self, exc: TableError) -> None:
        if isinstance(exc, _SameBad):
            return  # already logged and counted for this exact content
        self.last_error = str(exc)
        self.metrics.reload_errors.inc()
        self._bad_digest = self._bad_digest_pending
        log.error("route table edit rejected, still serving version %s:\n%s",
                  self.current.version if self.current else "-", exc)

    def _unreadable(self, exc: StoreError) -> None:
        """The store could not be read (a removed file, a database outage): keep serving, report it."""
        self.last_error = str(exc)
        self.metrics.reload_errors.inc()
        log.error("cannot reload the route table, still serving version %s: %s",
                  self.current.version if self.current else "-", exc)


class _SameBad(TableError):
    def __init__(self, message: str):
        ValueError.__init__(self, message)
        self.file, self.issues, self.line, self.problem, self.fix = "", [], None, message, ""
