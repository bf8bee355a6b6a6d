"""Append-only flip ledger: one JSON object per line (who, when, from -> to, why, evidence).

JSON lines because appends never rewrite earlier history, a torn last line (power loss) damages only
itself, and `tail`/`jq` read it without the kit. Each append is flushed and fsynced before we return.
With a shared store configured (STRANGLER_STORE_URL, or the façade's `strangler_store`) the ledger is its
append-only table instead: every function here accepts the store (or its URL) where it takes a path.
"""
from __future__ import annotations

import dataclasses
import fcntl
import json
import os
from collections import deque
from pathlib import Path
from typing import Any


def default_ledger_path() -> Any:
    """The shared store when one is configured (its ledger table), else STRANGLER_VAR_DIR/ledger.jsonl."""
    from proxy.shared_store import configured_store

    store = configured_store()
    if store is not None:
        return store
    from proxy.env import var_dir

    return var_dir() / "ledger.jsonl"


def _shared(path: Any) -> Any:
    from proxy.shared_store import SharedStore, is_store_url, store_for

    if isinstance(path, SharedStore):
        return path
    return store_for(path) if is_store_url(path) else None


def append_record(path: Any, record: Any) -> None:
    """Append one record (an object with to_dict(), a dataclass or a dict) as a JSON line, durably."""
    if hasattr(record, "to_dict"):
        data = record.to_dict()
    elif dataclasses.is_dataclass(record) and not isinstance(record, type):
        data = dataclasses.asdict(record)
    else:
        data = dict(record)
    store = _shared(path)
    if store is not None:
        store.append_ledger(data)
        return
    line = (json.dumps(data, default=str, ensure_ascii=False) + "\n").encode("utf-8")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # writers in other processes never interleave partial lines
        size = os.fstat(fd).st_size
        if size and os.pread(fd, 1, size - 1) != b"\n":
            line = b"\n" + line  # a torn last line stays alone (and skipped) instead of swallowing ours
        os.write(fd, line)
        os.fsync(fd)
    finally:
        os.close(fd)  # closing releases the lock


def read_records(path: Any, feature: str | None = None, limit: int | None = None) -> list[dict]:
    """Records oldest -> newest, optionally only one feature's, and only the last `limit` of them.

    Lines that are not valid JSON objects (e.g. a torn write) are skipped rather than failing the read.
    """
    store = _shared(path)
    if store is not None:
        return store.read_ledger(feature, limit)
    path = Path(path)
    if not path.exists():
        return []
    keep: deque[dict] = deque(maxlen=limit if limit and limit > 0 else None)
    with path.open(encoding="utf-8", errors="replace") as fh:
        for raw in fh:
            try:
                rec = json.loads(raw)
            except json.JSONDecodeError:
                continue
            if not isinstance(rec, dict):
                continue
            if feature is None or rec.get("feature") == feature:
                keep.append(rec)
    return list(keep)
