"""Options of the façade and the live route table: loaded in `configure`, hot-reloaded by a poll task.

Startup with a bad table fails with OptionsError (mitmdump exits, printing "<file>:<line>: problem. Fix: ...").
After startup an invalid edit is logged and counted, and the last good snapshot keeps serving. The poll
compares (mtime, size, inode) first and only reads + hashes the file when they change, so polling is cheap.
"""
from __future__ import annotations

import asyncio
import hashlib
import logging
import os
from collections.abc import Callable
from pathlib import Path

from mitmproxy import ctx, exceptions

from proxy.addons.snapshot import Snapshot, compile_snapshot
from proxy.metrics import FacadeMetrics
from proxy.table import RouteTable, TableError, parse_table

log = logging.getLogger("strangler.facade")


class FacadeState:
    """Owns the current Snapshot and the façade's options; other addons read `state.current`."""

    def __init__(self, metrics: FacadeMetrics | None = None):
        self.metrics = metrics or FacadeMetrics()
        self.current: Snapshot | None = None
        self.routes_path: Path | None = None
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

    def configure(self, updated: set[str]) -> None:
        if "strangler_routes" in updated:
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

    def running(self) -> None:
        if ctx.options.strangler_reload_ms > 0 and self._poll_task is None:
            self._poll_task = asyncio.get_running_loop().create_task(self._poll(), name="strangler table reload")

    async def done(self) -> None:
        if self._poll_task is not None:
            self._poll_task.cancel()
            self._poll_task = None

    # ---------------------------------------------------------------- reload
    def on_swap(self, listener: Callable[[Snapshot], None]) -> None:
        self._listeners.append(listener)

    def reload(self) -> bool:
        """Re-read the file now (used by the admin API after a flip). True when the file is (now) valid."""
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

    def _read_and_parse(self, path: Path, force: bool) -> tuple[RouteTable, str] | None:
        """Read + validate (no shared state touched but the stat/digest memo): safe to run in a thread."""
        try:
            stat = os.stat(path)
            data = path.read_bytes()
        except OSError as exc:
            raise _read_error(path, exc) from None
        digest = hashlib.blake2b(data, digest_size=16).hexdigest()
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
        self._bad_digest, self.last_error = None, None
        self.metrics.reloads.inc()
        self.metrics.table_version.set(self.current.version)
        for listener in self._listeners:
            listener(self.current)
        if self.current.version > 1:
            log.info("route table reloaded (version %d) from %s", self.current.version, self.routes_path)

    def _reject(self, exc: TableError) -> None:
        if isinstance(exc, _SameBad):
            return  # already logged and counted for this exact content
        self.last_error = str(exc)
        self.metrics.reload_errors.inc()
        if self.routes_path is not None:
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
            except TableError as exc:
                self._reject(exc)
            except Exception:  # never let the poll task die
                log.exception("unexpected error while reloading the route table")


class _SameBad(TableError):
    def __init__(self, message: str):
        ValueError.__init__(self, message)
        self.file, self.issues, self.line, self.problem, self.fix = "", [], None, message, ""


def _read_error(path: Path, exc: Exception) -> TableError:
    from proxy.table import TableIssue

    return TableError(str(path), [TableIssue(None, f"cannot read the route table ({exc})",
                                             "check the path given in strangler_routes")])
