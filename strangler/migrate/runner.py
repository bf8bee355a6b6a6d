"""Long-running and multi-step operations on a feature: the sync loop, handover, verify-all, live status.

Who owns a feature's writes is the route table's `writes_owner` (the façade routes writes by it). The sync
loop follows var/ownership.json's copy when no direction is forced; `migrate handover` writes that copy last,
after the table flip and the drain, so a supervised `migrate sync` process turns round by itself only once
the old direction is empty.
"""
from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from proxy.table import WritesOwner
from strangler.migrate import capture
from strangler.migrate.db import MigrationError, reset_sequence
from strangler.migrate.engine import quarantined_count
from strangler.migrate.feature import FeatureRuntime
from strangler.migrate.ownership import feature_state, record_sync, record_verified, record_writes_owner
from strangler.migrate.sync import ApplyResult, Lag, applied_state, drain, lag
from strangler.migrate.verify import TableVerification, verify_table

OWNER_DIRECTION = {WritesOwner.LEGACY: "forward", WritesOwner.SERVICE: "reverse"}


def direction_for(ownership_file: Path, feature: str) -> str:
    entry = feature_state(ownership_file, feature) or {}
    return OWNER_DIRECTION.get(entry.get("writes_owner", WritesOwner.LEGACY), "forward")


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


@dataclass(frozen=True)
class HandoverOptions:
    """Limits of one handover. None = the default: `max_lag_s`/`stale_s` from the flip gate's settings
    (STRANGLER_SYNC_MAX_LAG_S, STRANGLER_SYNC_STALE_S), `quiet_s` the old owner's upstream timeout_s + 1 s
    (the longest a write the façade sent it before the flip can still be in flight)."""

    timeout_s: float = 60.0
    quiet_s: float | None = None
    max_lag_s: float | None = None
    stale_s: float | None = None
    allow_quarantined: bool = False
    without_reverse_sync: bool = False
    batch_size: int = 500
    actor: str | None = None
    reason: str = ""


def handover(runtime: FeatureRuntime, ownership_file: Path, writes: str, routes: Path | str | Any,
             options: HandoverOptions = HandoverOptions()) -> dict[str, Any]:
    """Hand FEATURE's writes to `writes` (service | legacy) so that no write is lost. In this order:

    1. Check everything up front and refuse, naming each problem and its fix, with nothing changed: the
       route table lists the feature; every mapping has its reverse translator (`to_source`) unless
       `without_reverse_sync` accepts that the reverse direction never runs; no rows quarantined by the old
       direction; the old direction's sync reported recently, with a lag (recorded and live) within the
       limit; change capture is installed on the new owner's side (its writes are captured from the first).
    2. Flip `writes_owner` in the route table (one edit under the table's lock, one ledger record): the
       façades reload it and send every new write to the new owner. Sequences on the new owner move past
       the ids the sync wrote first.
    3. Drain the old direction for at least `quiet_s`, until a whole turn is quiet (nothing pending, nothing
       applied), so writes that were in flight at the old owner when the façades switched are carried over
       too. Past `timeout_s` the handover stops with the table already flipped and the old direction still
       running (nothing is lost: the new owner's writes wait in its change log); running it again finishes it.
    4. Record the new owner and sync direction in var/ownership.json: the sync loop turns round.
    """
    from proxy.flips import FlipError, default_actor, flip_feature

    if writes not in OWNER_DIRECTION:
        raise MigrationError(f"--writes must be 'legacy' or 'service', not {writes!r}")
    old_owner = WritesOwner.LEGACY if writes == WritesOwner.SERVICE else WritesOwner.SERVICE
    old_direction, new_direction = OWNER_DIRECTION[old_owner], OWNER_DIRECTION[WritesOwner(writes)]
    table = _read_table(routes)
    feature = table.features.get(runtime.name)
    entry = feature_state(ownership_file, runtime.name) or {}
    if feature is not None and feature.writes_owner.value == writes and entry.get("writes_owner") == writes:
        return {"feature": runtime.name, "writes_owner": writes, "changed": False, "drained_changes": 0,
                "sync_direction": (entry.get("sync") or {}).get("direction")}
    resuming = feature is not None and feature.writes_owner.value == writes  # step 4 never ran: finish it
    # no reverse translator, accepted: the reverse direction never runs, so there is nothing to check or drain
    one_way = options.without_reverse_sync and any(m.to_source is None for m in runtime.mappings)
    runs = {d for d in (old_direction, new_direction) if not (one_way and d == "reverse")}
    problems = _handover_problems(runtime, table, entry, writes, old_direction, runs, resuming, options)
    if problems:
        raise MigrationError(f"handover of {runtime.name} to {writes} refused; nothing changed:\n  - "
                             + "\n  - ".join(problems))
    drains = old_direction in runs
    before = lag(runtime.engines(old_direction)[0], runtime.routes(old_direction)) if drains else None
    _move_sequences(runtime, old_direction if drains else None)
    try:
        flip = flip_feature(routes, runtime.name, None, writes_owner=writes, actor=options.actor or default_actor(),
                            reason=options.reason or f"handover: {writes} owns the writes",
                            evidence={"pending": before.pending if before else None, "reverse_sync": not one_way,
                                      "lag_s": round(before.oldest_age_s, 3) if before else None})
    except FlipError as exc:
        raise MigrationError(f"handover of {runtime.name} refused by the route table; nothing changed: {exc}") from None
    old_upstream = table.default if old_owner == WritesOwner.LEGACY else feature.target
    quiet = options.quiet_s if options.quiet_s is not None else table.upstreams[old_upstream].timeout_s + 1.0
    drained = _drain_until_quiet(runtime, old_direction, quiet, options) if drains else 0
    _move_sequences(runtime, old_direction if drains else None)
    direction = new_direction if new_direction in runs else None
    record_writes_owner(ownership_file, runtime.name, writes, direction, 0.0)
    return {"feature": runtime.name, "writes_owner": writes, "changed": True, "drained_changes": drained,
            "sync_direction": direction or "off (no reverse translator)", "table_changed": flip.changed,
            "quiet_s": quiet if drains else 0.0}


def _move_sequences(runtime: FeatureRuntime, direction: str | None) -> None:
    """Serials on the side `direction` writes move past the ids it wrote, so the new owner never hands them out
    again (None: that direction never ran)."""
    if direction is None:
        return
    new_owner = runtime.engines(direction)[1]
    for route in runtime.routes(direction):
        reset_sequence(new_owner, route.write_table)


def _read_table(routes: Path | str | Any) -> Any:
    from proxy.stores import StoreError, open_table_store
    from proxy.table import TableError

    try:
        return open_table_store(routes).load()
    except (TableError, StoreError) as exc:
        raise MigrationError(f"cannot read the route table (it records who owns writes); nothing changed: {exc}") \
            from None


def _handover_problems(runtime: FeatureRuntime, table: Any, entry: dict[str, Any], writes: str, old_direction: str,
                       runs: set[str], resuming: bool, options: HandoverOptions) -> list[str]:
    """Every reason to refuse, each "problem. Fix: …" (empty = go). `runs`: the sync directions in use."""
    from strangler.migrate.gate import DEFAULT_MAX_LAG_S, MAX_LAG_ENV, configured_limit, sync_problems

    name = runtime.name
    problems = []
    feature = table.features.get(name)
    if feature is None:
        problems.append(f"the route table has no feature {name!r}, so the façade cannot route its writes. "
                        f"Fix: add {name!r} to the route table (or use the route table's feature name)")
    elif writes == WritesOwner.LEGACY and feature.state.value == "retired":
        problems.append(f"{name} is retired: every write goes to the service. Fix: `strangler flip {name} --to new` "
                        "first")
    missing = [m.name for m in runtime.mappings if m.to_source is None]
    if missing and not options.without_reverse_sync:
        problems.append(f"no reverse translator (`to_source`) on {', '.join(missing)}: the monolith would never "
                        "hear of the service's writes. Fix: add `to_source` (service row → legacy row) to the ACL "
                        "mapping, or pass --without-reverse-sync if legacy may go without them")
    # a direction's quarantine sits on its write side; counted as backfill, verify and status count it
    held = quarantined_count(runtime.engines(old_direction)[1], name) if old_direction in runs else 0
    if held and not options.allow_quarantined:
        side = "service" if old_direction == "forward" else "legacy"
        problems.append(f"{held} row(s) of {name} are quarantined (table _strangler_quarantine in the {side} "
                        "database): the new owner would not have them. Fix: correct them at their source and sync, "
                        "or pass --allow-quarantined (the new owner may then reuse their ids)")
    if not resuming and old_direction in runs:
        sync_fix = (f"Fix: run `strangler migrate sync {name}` (or its supervised process) until it is caught up, "
                    "then retry")
        problems += [f"{p}. {sync_fix}" for p in sync_problems(entry, old_direction, stale_s=options.stale_s,
                                                               max_lag_s=options.max_lag_s)]
        try:
            live = lag(runtime.engines(old_direction)[0], runtime.routes(old_direction))
        except MigrationError as exc:
            problems.append(f"{exc}. Fix: see above")
        else:
            limit = configured_limit(options.max_lag_s, MAX_LAG_ENV, DEFAULT_MAX_LAG_S)
            if live.oldest_age_s > limit:
                problems.append(f"{live.pending} change(s) wait in the {old_direction} change log, the oldest "
                                f"{live.oldest_age_s:.0f}s old (limit {limit:.0f}s, {MAX_LAG_ENV}). {sync_fix}")
    for direction in runs - {old_direction}:
        try:
            check_capture(runtime, direction)
        except MigrationError as exc:
            problems.append(f"{exc} (the new owner's writes must be captured from the first one on)")
    return problems


def _applied_count(write_engine: Any, feature: str, direction: str) -> int:
    """Changes of `direction` applied so far by anyone (this drain or a running `migrate sync`)."""
    state = applied_state(write_engine, feature, direction)
    return int((state or {}).get("applied_count") or 0)


def _drain_until_quiet(runtime: FeatureRuntime, direction: str, quiet_s: float, options: HandoverOptions) -> int:
    """Apply `direction` one batch per turn until `quiet_s` has passed and a whole turn was quiet: nothing
    pending and nothing applied since the last turn (by this drain or a running sync — a write still reaching
    the old side keeps every turn busy); MigrationError after the timeout."""
    read_engine, write_engine = runtime.engines(direction)
    routes = runtime.routes(direction)
    started = time.monotonic()
    deadline = started + options.timeout_s + quiet_s
    total, seen = 0, _applied_count(write_engine, runtime.name, direction)
    while True:
        total += drain(runtime.name, direction, routes, read_engine, write_engine, batch_size=options.batch_size,
                       max_rounds=1).changes  # one batch per turn: a steady writer must not keep us from the deadline
        pending = lag(read_engine, routes).pending
        applied, seen = seen, _applied_count(write_engine, runtime.name, direction)
        now = time.monotonic()
        if now - started >= quiet_s and not pending and seen == applied:
            return total
        if now > deadline:
            raise MigrationError(
                f"changes still arriving after {options.timeout_s:.0f}s of draining the {direction} sync ({pending} "
                f"pending now). The route table already sends {runtime.name}'s writes to the new owner and the "
                f"{direction} sync keeps carrying the old owner's last ones. Fix: stop what still writes to the old "
                "side directly, then run the same handover again to finish it")
        time.sleep(0.2 if pending == 0 else 0)


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
    return {"feature": runtime.name, "writes_owner": entry.get("writes_owner", WritesOwner.LEGACY),
            "tables": entry.get("tables", {}), "sync": entry.get("sync", {}), "live": directions}
