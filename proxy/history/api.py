"""`GET /dashboard/api/history?feature=&range=1h|6h|24h|7d`: a feature's series and the ledger's flips as markers.

Why this shape: the page gets at most ~720 points per side whatever the range (the store sums buckets per
step in SQL, percentiles come from the summed histogram here), so a 7-day view costs the same to draw and to
send as a 1-hour one. Flips and automatic rollbacks are read from the ledger in force (the façade's table
store), the same records `strangler ledger` prints.
"""
from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from proxy.common.clock import parse_stamp, stamp
from proxy.dashboard.window import quantile
from proxy.history import BOUNDS, COARSE_S, INTERVAL_S, SIDES, HistoryStore, Point, rate

# range -> (seconds shown, resolution read, step of a point)
RANGES: dict[str, tuple[int, int, int]] = {"1h": (3600, INTERVAL_S, INTERVAL_S), "6h": (6 * 3600, INTERVAL_S, 30),
                                           "24h": (86400, COARSE_S, 120), "7d": (7 * 86400, COARSE_S, 900)}
ROLLBACK_ACTOR = "auto-rollback"  # proxy/addons/rollback.py ACTOR
MARKER_LIMIT = 500


def series(points: list[Point], step: int) -> dict[str, dict[str, list[Any]]]:
    """Per side, columns of equal length: t (epoch s, a step's start) and the figures drawn."""
    out: dict[str, dict[str, list[Any]]] = {}
    for p in points:
        v = p.values
        col = out.setdefault(p.side, {k: [] for k in ("t", "requests", "rps", "e4xx", "e5xx", "enone",
                                                        "error_rate", "p50_ms", "p95_ms", "compared",
                                                        "equal_rate", "copies", "copy_errors", "canary")})
        hist = tuple(float(v[f"h{i}"]) for i in range(len(BOUNDS)))
        p50, p95 = quantile(0.5, BOUNDS, hist), quantile(0.95, BOUNDS, hist)
        errors = v["e5xx"] + v["enone"]
        for key, value in (("t", p.ts), ("requests", v["requests"]), ("rps", round(v["requests"] / step, 3)),
                           ("e4xx", v["e4xx"]), ("e5xx", v["e5xx"]), ("enone", v["enone"]),
                           ("error_rate", _round(rate(errors, v["requests"]))),
                           ("p50_ms", _round(p50 * 1000 if p50 is not None else None, 2)),
                           ("p95_ms", _round(p95 * 1000 if p95 is not None else None, 2)),
                           ("compared", v["compared"]), ("equal_rate", _round(rate(v["equal"], v["compared"]))),
                           ("copies", v["copies"]), ("copy_errors", v["copy_errors"]), ("canary", p.canary)):
            col[key].append(value)
    return out


def markers(ledger: Any, feature: str, since: float, until: float) -> list[dict[str, Any]]:
    """The feature's ledger records in [since, until] as markers: flips, automatic rollbacks, notes."""
    from proxy.ledger import read_records

    out = []
    for rec in read_records(ledger, feature=feature, limit=MARKER_LIMIT):
        try:
            at = parse_stamp(str(rec.get("ts", ""))).timestamp()
        except ValueError:
            continue
        if not since <= at <= until:
            continue
        kind = "rollback" if rec.get("actor") == ROLLBACK_ACTOR else (
            "flip" if rec.get("to_state") or rec.get("to_percent") is not None else "note")
        out.append({"t": round(at, 3), "ts": rec.get("ts"), "kind": kind, "actor": rec.get("actor"),
                    "from_state": rec.get("from_state"), "to_state": rec.get("to_state"),
                    "from_percent": rec.get("from_percent"), "to_percent": rec.get("to_percent"),
                    "reason": rec.get("reason")})
    return out


def history_document(store: HistoryStore, ledger: Any, feature: str | None, range_name: str, *,
                     now: float | None = None, known: list[str] | None = None) -> dict[str, Any]:
    """The endpoint's JSON. `feature` None/"": the first known one. `known`: the table's features."""
    span, res, step = RANGES[range_name]
    until = int(now if now is not None else time.time())
    until = until - until % step + step
    since = until - span
    features = sorted(set(known or []) | set(store.features()))
    feature = feature or (features[0] if features else "")
    doc: dict[str, Any] = {"feature": feature, "range": range_name, "resolution_s": res, "step_s": step,
                           "from": stamp(since), "to": stamp(until), "from_t": since, "to_t": until,
                           "features": features, "sides": list(SIDES), "store": store.name,
                           "series": {}, "markers": [], "note": None}
    if not feature:
        doc["note"] = "no feature has history yet (the façade writes a point every 10 s)"
        return doc
    doc["series"] = series(store.points(feature, res=res, since=since, until=until, step=step), step)
    try:
        doc["markers"] = markers(ledger, feature, since, until)
    except Exception as exc:  # noqa: BLE001 - a broken ledger is shown as a note, the series still answer
        doc["note"] = f"cannot read the ledger: {type(exc).__name__}: {exc}"
    return doc


def _round(value: float | None, digits: int = 4) -> float | None:
    return None if value is None else round(value, digits)


def history_route(state: Any, authorized: Callable[[Request], bool], secure: Callable[[Response], Response],
                  store: Callable[[], HistoryStore] | None = None) -> Route:
    """The route web.py registers: session (or bearer) authenticated like /ui/data; never blocks the loop."""
    from proxy.history.recorder import facade_history

    opened: list[HistoryStore] = []

    def build(feature: str | None, range_name: str) -> dict[str, Any]:
        if not opened:
            opened.append(store() if store is not None else facade_history(state))
        snap = state.current
        known = list(snap.table.features) if snap is not None else []
        from proxy.ledger import default_ledger_path

        return history_document(opened[0], state.store or default_ledger_path(), feature, range_name, known=known)

    async def endpoint(request: Request) -> Response:
        if not authorized(request):
            return secure(JSONResponse({"error": "unauthorized", "status": 401, "message": "log in at /ui/login "
                                        "(or send 'Authorization: Bearer <token>')"}, status_code=401))
        range_name = request.query_params.get("range", "1h")
        if range_name not in RANGES:
            return secure(JSONResponse({"error": "bad_range", "status": 400, "message": f"range {range_name!r} "
                                        f"is not one of {', '.join(RANGES)}. Fix: ?range=1h"}, status_code=400))
        feature = request.query_params.get("feature") or None
        try:
            doc = await asyncio.to_thread(build, feature, range_name)
        except Exception as exc:  # noqa: BLE001 - a broken store is a message, not a 500 page
            return secure(JSONResponse({"error": "history_unavailable", "status": 503,
                                        "message": f"cannot read the history: {type(exc).__name__}: {exc}. Fix: "
                                        "check the parity/shared store the façade uses"}, status_code=503))
        return secure(JSONResponse(doc))

    return Route("/dashboard/api/history", endpoint, methods=["GET"])
