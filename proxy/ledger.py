"""The append-only flip ledger (who, when, from -> to, why, evidence), wherever it lives.

The ledger is part of the TableStore (proxy/stores): JSON lines next to the table file, or the shared store's
append-only table in PostgreSQL. These functions take any location the resolver understands (a store, a
postgresql URL, a JSONL path, None for the one in force) for callers that hold a location, not a store.
Records are built in one place: proxy.flips.FlipRecord (a flip) and FlipRecord.note (an entry that moves no
traffic).
"""
from __future__ import annotations

import dataclasses
import os
from typing import Any

from proxy.stores import Ledger, open_ledger

Location = Ledger | str | os.PathLike[str] | None


def default_ledger_path() -> Ledger:
    """The ledger in force: the shared store's when $STRANGLER_STORE_URL is set, else var/ledger.jsonl."""
    return open_ledger(None)


def record_data(record: Any) -> dict[str, Any]:
    """A record (an object with to_dict(), a dataclass or a mapping) as the JSON object the ledger stores."""
    if hasattr(record, "to_dict"):
        return dict(record.to_dict())
    if dataclasses.is_dataclass(record) and not isinstance(record, type):
        return dataclasses.asdict(record)
    return dict(record)


def append_record(location: Location, record: Any) -> None:
    """Append one record durably (fsynced line, or a committed row)."""
    open_ledger(location).append_ledger(record_data(record))


def read_records(location: Location, feature: str | None = None, limit: int | None = None,
                 ) -> list[dict[str, Any]]:
    """Records oldest -> newest, optionally only one feature's, and only the last `limit` of them. Torn lines
    of a JSONL ledger are skipped rather than failing the read."""
    return open_ledger(location).read_ledger(feature, limit)
