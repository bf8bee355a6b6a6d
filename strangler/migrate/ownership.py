"""var/ownership.json: how far each feature's data migration got (backfill, verify, sync direction and lag).

Who owns a feature's writes is the route table's `writes_owner` (the façade routes writes by it);
`writes_owner` here is the copy `migrate handover` writes last, which the sync loop follows for its direction
and status, the dashboard and the walkthrough show. Written here by the data migration. Updates are
read-modify-write under a file lock with an atomic replace, so concurrent writers never lose each other's
keys and readers never see half a file.
"""
from __future__ import annotations

import contextlib
import fcntl
import json
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from proxy.common import clock
from proxy.common.files import atomic_write
from proxy.table import WritesOwner  # the same two sides as the route table's writes_owner

FILE_NAME = "ownership.json"


def ownership_path(var_dir: Path) -> Path:
    return var_dir / FILE_NAME


def _empty_feature() -> dict[str, Any]:
    return {"writes_owner": WritesOwner.LEGACY, "tables": {},
            "sync": {"direction": None, "lag_s": None, "updated_at": None}}


def load(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {"features": {}}
    data = json.loads(path.read_text() or "{}")
    data.setdefault("features", {})
    return data


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_suffix(path.suffix + ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def record_backfill(path: Path, feature: str, rows_per_table: Mapping[str, int],
                    when: str | None = None) -> dict[str, Any]:
    """Mark tables as backfilled (time, rows). writes_owner is left as is ('legacy' for a new feature)."""
    return _update(path, feature, _tables_change(rows_per_table, "backfilled_at", when or clock.stamp()))


def _tables_change(rows_per_table: Mapping[str, int], field: str, at: str) -> Callable[[dict[str, Any]], None]:
    def change(entry: dict[str, Any]) -> None:
        for table, rows in rows_per_table.items():
            record = entry["tables"].setdefault(table, {"backfilled_at": None, "verified_at": None, "rows": 0})
            record.update({field: at, "rows": int(rows)})
    return change


def _sync_record(direction: str | None, lag_s: float | None, when: str | None) -> dict[str, Any]:
    return {"direction": direction, "lag_s": None if lag_s is None else round(float(lag_s), 3),
            "updated_at": when or clock.stamp()}


def _update(path: Path, feature: str, change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    """Read-modify-write one feature's entry under the file lock; an atomic, fsynced replace."""
    with _locked(path):
        data = load(path)
        entry = data["features"].setdefault(feature, _empty_feature())
        for key, value in _empty_feature().items():
            entry.setdefault(key, value)
        change(entry)
        atomic_write(path, json.dumps(data, indent=2, sort_keys=True) + "\n")
    return data


def record_verified(path: Path, feature: str, rows_per_table: Mapping[str, int],
                    when: str | None = None) -> dict[str, Any]:
    """Mark tables as verified (a passing `migrate verify`), with the rows seen on the service side."""
    return _update(path, feature, _tables_change(rows_per_table, "verified_at", when or clock.stamp()))


def record_sync(path: Path, feature: str, direction: str | None, lag_s: float | None,
                when: str | None = None) -> dict[str, Any]:
    """The sync's direction and lag (age in seconds of the oldest unapplied change; 0 = caught up)."""
    def change(entry: dict[str, Any]) -> None:
        entry["sync"] = _sync_record(direction, lag_s, when)
    return _update(path, feature, change)


def record_writes_owner(path: Path, feature: str, owner: WritesOwner | str, direction: str | None, lag_s: float | None,
                        when: str | None = None) -> dict[str, Any]:
    """Handover's last step: who owns writes now, and the sync direction that follows from it (None: no
    sync, a service without a reverse translator)."""
    if owner not in set(WritesOwner):
        raise ValueError(f"writes owner must be 'legacy' or 'service', not {owner!r}")

    def change(entry: dict[str, Any]) -> None:
        entry["writes_owner"] = WritesOwner(owner)
        entry["sync"] = _sync_record(direction, lag_s, when)
    return _update(path, feature, change)


def feature_state(path: Path, feature: str) -> dict[str, Any] | None:
    """The feature's entry, or None (also when the file is unreadable: callers treat that as unknown)."""
    try:
        entry = load(path)["features"].get(feature)
    except (OSError, ValueError):
        return None
    return entry if isinstance(entry, dict) else None
