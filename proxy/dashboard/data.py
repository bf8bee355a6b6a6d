"""The JSON the dashboard polls: one document with everything an operator needs before a flip.

Sources, each read where it lives (no copies to drift): the live route table and breakers (the snapshot the
façade serves from), recent traffic per side (proxy.dashboard.window over the façade's Prometheus
collectors), parity (the parity store, read-only), data ownership (var/ownership.json, when the data
migration wrote one) and the flip ledger. A missing or broken source shows up as a note in its section,
never as a failed poll: the page must keep working while one part of the kit is not set up yet.
"""
from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

from proxy.common.clock import stamp
from proxy.dashboard.window import MetricsWindow
from proxy.ledger import default_ledger_path, read_records
from proxy.table import State

LEDGER_LIMIT = 30
TOP_FIELDS = 5
PARITY_WINDOW = 200  # exchanges: the same default span auto-rollback judges
CONTROLS_TTL_S = 10.0  # the gates' verdicts are re-asked in the background after this (the table changing: at once)
PARITY_TTL_S = 3.0     # the parity section is re-read in the background after this (the table changing: at once)


def _var_dir() -> Path:
    from proxy.env import var_dir

    return var_dir()


def _option(name: str) -> str:
    """A mitmproxy option's value when running inside mitmdump and some addon declared it, else ""."""
    try:
        from mitmproxy import ctx

        return str(getattr(ctx.options, name, "") or "")
    except Exception:  # noqa: BLE001 - no master (unit tests, other hosts): the option does not exist
        return ""


class DashboardData:
    """Builds the polled document. `parity_path`/`ownership_path` default to the files under var/."""

    def __init__(self, state, *, window_s: float = 60.0, parity_path: Path | None = None,
                 ownership_path: Path | None = None, ledger_path: Path | None = None):
        self.state = state
        self.window = MetricsWindow(state.metrics, window_s=window_s)
        self._parity_path, self._ownership_path, self._ledger_path = parity_path, ownership_path, ledger_path
        self._stores: dict[Path | str, Any] = {}
        self.lock = threading.Lock()  # one build at a time: the metrics window is not thread-safe
        self._checked: dict[str, tuple[int, float, list[dict[str, Any]]]] = {}  # feature -> (version, at, controls)
        self._checking = threading.Lock()  # one background re-check at a time
        self._parity_kept: tuple[int, float, tuple[dict[str, Any], str | None]] | None = None
        self._parity_reading = threading.Lock()

    # The file paths are resolved per poll so a var dir set after start (tests, env) is honoured.
    def parity_path(self) -> str | Path:
        """The store the shadow addon writes (the same choice: proxy.parity.store.parity_location)."""
        if self._parity_path is not None:
            return self._parity_path
        from proxy.parity.store import parity_location

        return parity_location(_option("strangler_parity_db") or None, shared=self.state.store_url)

    def ownership_path(self) -> Path:
        return self._ownership_path or _var_dir() / "ownership.json"

    def ledger_path(self) -> Any:
        """The façade's own ledger (its table store's), unless one was given."""
        return self._ledger_path or self.state.store or default_ledger_path()

    def build(self) -> dict[str, Any]:
        """The whole document; does file and SQLite I/O, so callers run it off the event loop."""
        snap = self.state.current
        table = snap.table
        span, traffic = self.window.stats()
        parity, parity_note = self._parity_now(snap)
        controls = self._controls(snap)
        dry_run = self._dry_run()
        ownership, ownership_note = self._ownership()
        features = []
        for name, feat in table.features.items():
            sides = {"legacy": table.default, "target": feat.target}
            features.append({
                "name": name, "state": feat.state.value, "target": feat.target,
                "target_url": table.upstreams[feat.target].url,
                "canary_percent": feat.canary_percent,
                "routes": [{"methods": r.methods, "path": r.path} for r in feat.routes],
                "sides": {side: {"upstream": up, **traffic.get((name, up), _no_traffic())}
                          for side, up in sides.items()},
                "parity": parity.get(name),
                "dry_run": _dry_run_entry(table.upstreams[feat.target].dry_run_writes, dry_run.get(feat.target)),
                "ownership": ownership.get(name),
                "rollback": feat.rollback.model_dump(),
                "controls": controls[name],
            })
        return {
            "generated_at": stamp(),
            "window_s": round(span, 1),
            "table": {"version": snap.version, "file": str(self.state.routes_path), "default": table.default,
                      "loaded_at": stamp(snap.loaded_at), "last_error": self.state.last_error},
            "states": [s.value for s in State],
            "features": features,
            "upstreams": [{"name": name, "url": up.url, "default": name == table.default,
                           "breaker": snap.breakers[name].state.name.lower().replace("_", "-"),
                           "failures": snap.breakers[name].failures, "opens": snap.breakers[name].opens,
                           **_upstream_traffic(name, traffic)}
                          for name, up in table.upstreams.items()],
            "parity_store": {"path": str(self.parity_path()), "note": parity_note},
            "ownership_file": {"path": str(self.ownership_path()), "note": ownership_note},
            "ledger": self._ledger(),
        }

    # ---------------------------------------------------------------------------------------- sources
    def _parity_now(self, snap: Any) -> tuple[dict[str, Any], str | None]:
        """The parity section, kept per table version: re-judging every feature's recent window takes ~5 ms a
        feature (200 ms for 50), too slow for every 2 s poll. A new table version (an ignore rule, a flip) is
        read at once; otherwise a reading older than PARITY_TTL_S is served while a background thread reads
        again (the window spans minutes of traffic: a few seconds' lag changes nothing an operator decides)."""
        path = self.parity_path()  # resolved now: a background read must not follow a var dir changed since

        def read() -> tuple[dict[str, Any], str | None]:
            return self._parity({name: feat.parity for name, feat in snap.table.features.items()}, path)

        kept = self._parity_kept
        if kept is None or kept[0] != snap.version:
            self._parity_kept = (snap.version, time.monotonic(), read())
            return self._parity_kept[2]
        if time.monotonic() - kept[1] > PARITY_TTL_S and self._parity_reading.acquire(blocking=False):
            def again() -> None:
                try:
                    value = read()
                    current = self._parity_kept
                    if current is None or current[0] == snap.version:
                        self._parity_kept = (snap.version, time.monotonic(), value)
                finally:
                    self._parity_reading.release()
            threading.Thread(target=again, name="dashboard parity", daemon=True).start()
        return kept[2]

    def _parity(self, features: dict[str, Any], path: Path | str) -> tuple[dict[str, Any], str | None]:
        """Per feature: the rollback window's rate, the recent comparisons grouped by cause under the rules in
        force (proxy/parity/recent.py: the same grouping as `strangler parity report`), the top fields."""
        from proxy.parity.recent import evaluate

        if isinstance(path, Path) and not path.exists():
            return {}, "no parity store yet (shadow traffic or `strangler parity run` creates it)"
        try:
            store = self._store(path)
            routes = store.route_stats()
            fields = store.field_stats()
            out: dict[str, Any] = {}
            for name, rules in features.items():
                mine = [r for r in routes if r.feature == name]
                if not mine:
                    continue
                window = store.window(name, PARITY_WINDOW)
                recent = evaluate(name, store.recent(name, rules.window), rules)  # what a flip's evidence counts
                ranked = sorted((f for f in fields if f.feature == name and f.verdict.value != "none"),
                                key=lambda f: (f.verdict.value != "real", -f.counts.raw_rate, f.field))
                out[name] = {
                    "compared": sum(r.compared for r in mine), "errors": sum(r.errors for r in mine),
                    "window": window.to_dict(),
                    "recent": {"window": rules.window, "compared": recent.compared, "errors": recent.errors,
                               "mismatches": recent.mismatches},
                    "parity_rate": (1 - recent.diff_rate) if recent.compared else None,
                    "top_fields": [{"field": f.field, "route": f.route, "verdict": f.verdict.value,
                                    "raw_rate": f.counts.raw_rate, "noise_rate": f.counts.noise_rate,
                                    "raw": f.counts.raw, "compared": f.counts.compared,
                                    "ignored": f.field in rules.ignore}
                                   for f in ranked[:TOP_FIELDS]],
                    "causes": [{"cause": g.cause.value, "headline": g.headline(), "differs": g.cause.differs,
                                "fields": [k for k, _ in g.top_fields(TOP_FIELDS)]}
                               for g in recent.groups[:TOP_FIELDS]],
                }
            return out, None
        except Exception as exc:  # noqa: BLE001 - a broken store is shown on the page, the poll still answers
            return {}, f"cannot read the parity store {path}: {type(exc).__name__}: {exc}"

    def _controls(self, snap: Any) -> dict[str, list[dict[str, Any]]]:
        """Per feature, the moves the gates allow now and the refusals of the others (proxy.flips.precheck).

        Asking every gate about every move of 50 features takes a few hundred ms (the kit's gates read their
        files), too slow for each 2 s poll. So the verdicts are kept per table version: a new version (a flip,
        an edit) is judged at once, before the page can show a button of the old table; a verdict older than
        CONTROLS_TTL_S is served while a background thread asks again (the figures move with traffic)."""
        now = time.monotonic()
        missing = [n for n in snap.table.features if self._checked.get(n, (None,))[0] != snap.version]
        parity = self.parity_path()
        if missing:
            self._check(snap, missing, parity)
        if any(now - self._checked[n][1] > CONTROLS_TTL_S for n in snap.table.features) and \
                self._checking.acquire(blocking=False):
            def again() -> None:
                try:
                    self._check(snap, list(snap.table.features), parity)
                finally:
                    self._checking.release()
            threading.Thread(target=again, name="dashboard controls", daemon=True).start()
        return {n: self._checked[n][2] for n in snap.table.features}

    def _check(self, snap: Any, names: list[str], parity: Path | str) -> None:
        from proxy.dashboard.detail import controls

        gates = getattr(self.state, "gates", ())
        for name in names:
            self._checked[name] = (snap.version, time.monotonic(), controls(snap.table, name, gates, parity))

    def _dry_run(self) -> dict[str, Any]:
        """Dry-run targets' recorded states (proxy/shadow/safety.py); an unreadable store shows as none."""
        path = self.parity_path()
        if isinstance(path, Path) and not path.exists():
            return {}
        try:
            return self._store(path).targets()
        except Exception:  # noqa: BLE001 - the parity section already reports a broken store
            return {}

    def parity_store(self) -> Any:
        """The parity store (read-only use), or None while no SQLite store file exists yet."""
        path = self.parity_path()
        return None if isinstance(path, Path) and not path.exists() else self._store(path)

    def _store(self, path: Path | str) -> Any:  # a ParityStore (imported when first asked for)
        from proxy.parity.store import open_store

        store = self._stores.get(path)
        if store is None:  # read-only use: no flush thread; its queries open their own connections
            store = self._stores[path] = open_store(path, background=False)
        return store

    def _ownership(self) -> tuple[dict[str, Any], str | None]:
        path = self.ownership_path()
        if not path.exists():
            return {}, "no ownership file yet (`strangler migrate` writes it)"
        try:
            data = json.loads(path.read_text(encoding="utf-8") or "{}")
            features = data.get("features") or {}
            if not isinstance(features, dict):
                raise TypeError("'features' is not an object")
        except (OSError, ValueError, TypeError) as exc:
            return {}, f"cannot read {path}: {exc}"
        return {name: _ownership_entry(entry) for name, entry in features.items() if isinstance(entry, dict)}, None

    def _ledger(self) -> list[dict[str, Any]]:
        keep = ("ts", "actor", "feature", "from_state", "to_state", "from_percent", "to_percent", "reason",
                "forced", "evidence")
        records = read_records(self.ledger_path(), limit=LEDGER_LIMIT)
        return [{k: rec.get(k) for k in keep} for rec in reversed(records)]


def _ownership_entry(entry: dict[str, Any]) -> dict[str, Any]:
    """The contract's shape (COMMON.md), defensively: unknown or wrong-typed values become null."""
    tables = entry["tables"] if isinstance(entry.get("tables"), dict) else {}
    sync = entry["sync"] if isinstance(entry.get("sync"), dict) else {}
    lag = sync.get("lag_s")
    return {
        "writes_owner": entry.get("writes_owner") if isinstance(entry.get("writes_owner"), str) else None,
        "tables": [{"name": name, "rows": info.get("rows"), "backfilled_at": info.get("backfilled_at"),
                    "verified_at": info.get("verified_at")}
                   for name, info in sorted(tables.items()) if isinstance(info, dict)],
        "sync": {"direction": sync.get("direction"), "lag_s": lag if isinstance(lag, (int, float)) else None,
                 "updated_at": sync.get("updated_at")},
    }


def _dry_run_entry(declared: bool, target: dict[str, Any] | None) -> dict[str, Any]:
    """Whether the feature's writes are shadowed: only to a target that declares dry_run_writes AND proved it."""
    from proxy.parity.store import TARGET_PROVEN, TARGET_UNSAFE, UNSAFE_TEXT

    state = target["state"] if target else None
    if not declared:
        return {"state": "not_declared", "writes_shadowed": False, "says": "target takes no shadowed writes"}
    if target is not None and state == TARGET_UNSAFE:
        return {"state": state, "writes_shadowed": False, "says": UNSAFE_TEXT, "detail": target["reason"]}
    if state == TARGET_PROVEN:
        return {"state": state, "writes_shadowed": True, "says": "dry-run acknowledged — writes shadowed"}
    return {"state": "unproven", "writes_shadowed": False,
            "says": "dry-run not proven yet — writes not shadowed until the probe passes"}


def _no_traffic() -> dict[str, Any]:
    return {"requests_total": 0, "errors_total": 0, "window_requests": 0, "window_errors": 0, "rate_rps": 0.0,
            "error_rate": None, "p50_ms": None, "p95_ms": None, "p95_all_ms": None}


def _upstream_traffic(upstream: str, traffic: dict) -> dict[str, Any]:
    mine = [v for (_, up), v in traffic.items() if up == upstream]
    return {"requests_total": sum(v["requests_total"] for v in mine),
            "rate_rps": sum(v["rate_rps"] for v in mine)}
