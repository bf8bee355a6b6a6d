"""The route table and the flip ledger behind one interface, chosen in one place.

Why: the table and its ledger live either in files (routes.yaml + var/ledger.jsonl; proxy/stores/files.py) or
in PostgreSQL so several façades serve ONE table (proxy/shared_store.py). Everything that reads, edits,
ledgers or watches them holds a `TableStore` and calls its methods; only the resolvers below
(`open_table_store`, `open_ledger`, `shared_url`) look at what a location is (a store, a URL, a path). The
choice is read when it is needed (an option, $STRANGLER_STORE_URL, a path) and never kept process-wide.
"""
from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from proxy.table import RouteTable

URL_ENV = "STRANGLER_STORE_URL"
_SCHEMES = ("postgresql", "postgresql+psycopg", "postgres")


class StoreError(ValueError):
    """The table or ledger cannot be read or written; the message says what to do about it."""


@dataclass(frozen=True, slots=True)
class TableDoc:
    """The table document as stored: its text, a digest of it, and its version where the store counts them."""

    text: str
    digest: str
    version: int | None = None


def digest(data: bytes) -> str:
    """The content digest every store and the façade compare tables by."""
    return hashlib.blake2b(data, digest_size=16).hexdigest()


@runtime_checkable
class Ledger(Protocol):
    """The append-only flip ledger: records oldest -> newest, each a JSON object."""

    def append_ledger(self, data: dict[str, Any]) -> None: ...

    def read_ledger(self, feature: str | None = None, limit: int | None = None) -> list[dict[str, Any]]: ...

    @property
    def ledger_name(self) -> str:
        """Where the records go, for messages (never a password)."""
        ...


class LockedTable(Protocol):
    """The table held exclusively (`TableStore.locked`): its text then, and a write replacing it."""

    @property
    def text(self) -> str: ...

    def write(self, text: str, actor: str = "") -> int | None: ...


@runtime_checkable
class TableStore(Ledger, Protocol):
    """Where the route table and its ledger live. `str(store)` names it for messages (never a password)."""

    # True when `watch` hears of every change at once (its poll is only a fallback for a lost notification)
    pushes_changes: bool

    def read(self) -> TableDoc:
        """The document now; StoreError when it cannot be read or there is none yet."""
        ...

    def load(self) -> RouteTable:
        """The validated table (TableError with lines), or StoreError."""
        ...

    def locked(self) -> AbstractContextManager[LockedTable]:
        """Hold the table exclusively: read it, write it (atomic / compare-and-swap). Ledger appends made by
        this thread inside the block are in the same lock (files) or transaction (PostgreSQL)."""
        ...

    def version(self) -> int | None:
        """The stored version (None: the store keeps none, or holds no table yet)."""
        ...

    def push(self, text: str, *, actor: str) -> int | None:
        """Replace the whole document (the caller validated it); the new version where there is one."""
        ...

    async def watch(self, changed: Callable[[], None], poll_s: Callable[[], float]) -> None:
        """Run until cancelled, calling `changed()` whenever the table may have changed (and once when the
        store may have been missed, e.g. after a reconnect)."""
        ...


def is_store_url(value: object) -> bool:
    """A PostgreSQL URL (the shared store) rather than a file path."""
    return isinstance(value, str) and value.split(":", 1)[0].lower() in _SCHEMES


def shared_url(explicit: str | None = None) -> str:
    """The shared store's URL: `explicit` (a --store / strangler_store value), else $STRANGLER_STORE_URL;
    "" means the files. Read each time: nothing is cached process-wide."""
    return (explicit or "").strip() or os.environ.get(URL_ENV, "").strip()


def open_table_store(location: TableStore | str | os.PathLike[str] | None = None, *,
                     ledger: str | os.PathLike[str] | None = None, shared: bool = False) -> TableStore:
    """THE resolver: a TableStore as is; a PostgreSQL URL -> the shared store; a path -> the file store
    (its ledger `ledger`, else var/ledger.jsonl at each append); None -> $STRANGLER_STORE_URL, else StoreError.
    `shared`: `location` is a --store value, so anything but a PostgreSQL URL is an error, never a file."""
    if isinstance(location, TableStore):
        return location
    if location is None or (isinstance(location, str) and not location.strip()):
        location = shared_url()
        if not location:
            raise StoreError("no route table given. Fix: pass --routes FILE or --store URL (or set "
                             f"STRANGLER_ROUTES_FILE / {URL_ENV})")
    if shared or is_store_url(location):
        from proxy.shared_store import store_for

        return store_for(str(location))
    from proxy.stores.files import FileTableStore

    return FileTableStore(Path(location), ledger=Path(ledger) if ledger is not None else None)


def open_ledger(location: Ledger | str | os.PathLike[str] | None = None) -> Ledger:
    """The ledger at `location` (a store, a URL, a JSONL path); None: the shared store's when
    $STRANGLER_STORE_URL is set, else var/ledger.jsonl."""
    if isinstance(location, Ledger):
        return location
    if location is None:
        location = shared_url() or None
    if location is not None and is_store_url(location):
        from proxy.shared_store import store_for

        return store_for(str(location))
    from proxy.stores.files import JsonlLedger

    return JsonlLedger(Path(location) if location is not None else None)


__all__ = ["URL_ENV", "Ledger", "LockedTable", "StoreError", "TableDoc", "TableStore", "digest", "is_store_url",
           "open_ledger", "open_table_store", "shared_url"]
