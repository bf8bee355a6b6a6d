"""Long-running and multi-step operations on a feature: the sync loop, handover, verify-all, live status.

The sync loop follows var/ownership.json when no direction is forced, so a supervised `migrate sync` process
switches direction by itself after `migrate handover`.
"""
from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from strangler.migrate import capture
from sqlalchemy import func, select

from strangler.migrate.db import MigrationError, has_table, quarantine, reset_sequence
from strangler.migrate.feature import FeatureRuntime
from strangler.migrate.ownership import feature_state, record_sync, record_verified, record_writes_owner
from strangler.migrate.sync import ApplyResult, Lag, applied_state, drain, lag
from strangler.migrate.verify import TableVerification, verify_table

OWNER_DIRECTION = {"legacy": "forward", "service": "reverse"}


def direction_for(ownership_file: Path, feature: str) -> str:
    entry = feature_state(ownership_file, feature) or {}
    return OWNER_DIRECTION.get(entry.get("writes_owner", "legacy"), "forward")


def check_capture(runtime: FeatureRuntime, direction: str) -> None:
    side = "legacy" if direction == "forward" else "service"
    read_engine, _ = runtime.engines(direction)
    state = capture.installed(read_engine, runtime.capture_specs(side))
    missing = [t for t, ok in state.items() if not ok]
    if missing:
        raise MigrationError(f"change capture is not installed on the {side} side for {', '.join(missing)}: run "
                             f"`strangler migrate capture install {runtime.name} --side {side}`")


@dataclass
class Round:
    direction: str
    result: ApplyResult
    lag: Lag


def sync_round(runtime: FeatureRuntime, direction: str, ownership_file: Path, batch_size: int) -> Round:
    read_engine, write_engine = runtime.engines(direction)
    routes = runtime.routes(direction)
    result = drain(runtime.name, direction, routes, read_engine, write_engine, batch_size=batch_size,
                   max_rounds=20)
    current = lag(read_engine, routes)
    record_sync(ownership_file, runtime.name, direction, current.oldest_age_s)
    return Round(direction, result, current)


def run_sync(runtime: FeatureRuntime, ownership_file: Path, *, direction: str | None, once: bool,
             interval: float, batch_size: int, stop: threading.Event,
             on_round: Callable[[Round], None] | None = None) -> None:
    """Apply changes until `stop` is set (or once drained with `once`)."""
    checked: set[str] = set()
    while not stop.is_set():
        current = direction or direction_for(ownership_file, runtime.name)
        if current not in checked:
            check_capture(runtime, current)
            checked.add(current)
        done = sync_round(runtime, current, ownership_file, batch_size)
        if on_round is not None:
            on_round(done)
        if once and done.lag.pending == 0:
            return
        if done.lag.pending == 0 or done.result.changes == 0:
            stop.wait(interval)


def quarantined_count(runtime: FeatureRuntime) -> int:
    if not has_table(runtime.target, quarantine.name):
        return 0
    with runtime.target.connect() as conn:
        return conn.execute(select(func.count()).select_from(quarantine).where(
            quarantine.c.feature == runtime.name)).scalar_one()


def handover(runtime: FeatureRuntime, ownership_file: Path, writes: str, *, batch_size: int = 500,
             timeout_s: float = 60.0, allow_quarantined: bool = False) -> dict[str, Any]:
    """Drain the direction that brought the old owner's writes over, then record the new owner.

    Stop writes on the old side first (flip routing); changes still arriving keep the drain going until
    `timeout_s`, after which the handover is refused rather than losing them.
    """
    if writes not in OWNER_DIRECTION:
        raise MigrationError(f"--writes must be 'legacy' or 'service', not {writes!r}")
    old_direction = "reverse" if writes == "legacy" else "forward"
    new_direction = OWNER_DIRECTION[writes]
    check_capture(runtime, new_direction)  # refuse before changing anything
    held = quarantined_count(runtime)
    if writes == "service" and held and not allow_quarantined:
        raise MigrationError(f"{held} legacy row(s) of {runtime.name} are quarantined (table _strangler_quarantine "
                             "in the service database): fix them in legacy and sync, or pass --allow-quarantined "
                             "(the service may then reuse their ids and overwrite them in legacy)")
    read_engine, _write_engine = runtime.engines(old_direction)
    routes = runtime.routes(old_direction)
    deadline = time.monotonic() + timeout_s
    total = 0
    while True:
        total += drain(runtime.name, old_direction, routes, *runtime.engines(old_direction),
                       batch_size=batch_size).changes
        pending = lag(read_engine, routes)
        if pending.pending == 0:
            break
        if time.monotonic() > deadline:
            raise MigrationError(f"{pending.pending} change(s) still arriving after {timeout_s:.0f}s of draining "
                                 f"the {old_direction} sync: stop writes on the old side, then retry")
    new_owner_engine = runtime.target if writes == "service" else runtime.source
    for route in runtime.routes(old_direction):
        reset_sequence(new_owner_engine, route.write_table)  # explicit ids were written: move serials past them
    record_writes_owner(ownership_file, runtime.name, writes, new_direction, 0.0)
    return {"feature": runtime.name, "writes_owner": writes, "drained_changes": total,
            "sync_direction": new_direction}


def verify_feature(runtime: FeatureRuntime, ownership_file: Path, *, limit: int = 20,
                   strict: bool = False) -> tuple[bool, list[TableVerification]]:
    reports = [verify_table(m, runtime.source, runtime.target, limit=limit) for m in runtime.mappings]
    ok = all(r.ok for r in reports) and not (strict and any(r.quarantined for r in reports))
    if ok:
        record_verified(ownership_file, runtime.name, {r.source_table: r.target_rows for r in reports})
    return ok, reports


def live_status(runtime: FeatureRuntime, ownership_file: Path) -> dict[str, Any]:
    """Ownership entry plus, per direction, capture state, pending changes, lag and the applied checkpoint."""
    entry = feature_state(ownership_file, runtime.name) or {}
    directions: dict[str, Any] = {}
    for direction, side in (("forward", "legacy"), ("reverse", "service")):
        read_engine, write_engine = runtime.engines(direction)
        try:
            specs = runtime.capture_specs(side)
            installed = capture.installed(read_engine, specs)
            routes = runtime.routes(direction)
            current = lag(read_engine, routes).as_dict()
        except MigrationError as exc:
            installed, current = {}, {"error": str(exc)}
        directions[direction] = {"capture": installed, **current,
                                 "checkpoint": applied_state(write_engine, runtime.name, direction)}
    return {"feature": runtime.name, "writes_owner": entry.get("writes_owner", "legacy"),
            "tables": entry.get("tables", {}), "sync": entry.get("sync", {}), "live": directions}
