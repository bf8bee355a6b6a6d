"""`GET /dashboard/api/history?feature=&range=1h|6h|24h|7d`: a feature's series and the ledger's flips as markers.

Why this shape: the page gets at most 360 points per side whatever the range (1h: the 10-s rows; 6h: the
minutes; 24h: the 5-min rollup; 7d: the 30-min rollup), read as stored, percentiles from the summed histogram
here, so a 7-day view costs about what a 1-hour one does to read, send and draw. Flips and automatic
rollbacks are read from the ledger in force (the façade's table store), the same records `strangler ledger`
prints.
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
from proxy.history import BOUNDS, COARSE_S, COUNTS, INTERVAL_S, ROLLUPS_S, SIDES, HistoryStore, Point

# range -> (seconds shown, resolution read, step of a point)
RANGES: dict[str, tuple[int, int, int]] = {"1h": (3600, INTERVAL_S, INTERVAL_S), "6h": (6 * 3600, COARSE_S, COARSE_S),
                                           "24h": (86400, ROLLUPS_S[0], ROLLUPS_S[0]),
                                           "7d": (7 * 86400, ROLLUPS_S[1], ROLLUPS_S[1])}
ROLLBACK_ACTOR = "auto-rollback"  # proxy/addons/rollback.py ACTOR
MARKER_LIMIT = 500


_COL = {name: i for i, name in enumerate(COUNTS)}
_HIST = slice(_COL["h0"], _COL["h0"] + len(BOUNDS))


def series(points: list[Point], step: int) -> dict[str, dict[str, list[Any]]]:
    """Per side, columns of equal length: t (epoch s, a step's start) and the figures drawn. Column-wise (a
    whole view is at most 3 x 360 points; this runs on every poll). A side gets the columns drawn for it:
    traffic, errors, latency and canary % for legacy and target, comparisons and copies for shadow."""
    by_side: dict[str, list[Point]] = {}
    for p in points:
        by_side.setdefault(p.side, []).append(p)
    out: dict[str, dict[str, list[Any]]] = {}
    req, e4, e5, en = _COL["requests"], _COL["e4xx"], _COL["e5xx"], _COL["enone"]
    cmp_, eq, cp, cpe = _COL["compared"], _COL["equal"], _COL["copies"], _COL["copy_errors"]
    for side, pts in by_side.items():
        rows = [p.counts for p in pts]
        p50: list[float | None] = []
        p95: list[float | None] = []
        for r in rows if side != "shadow" else ():
            hist = r[_HIST]
            p50.append(_ms(quantile(0.5, BOUNDS, hist)) if hist[-1] else None)
            p95.append(_ms(quantile(0.95, BOUNDS, hist)) if hist[-1] else None)
        if side == "shadow":
            out[side] = {
                "t": [p.ts for p in pts], "compared": [r[cmp_] for r in rows],
                "equal_rate": [round(r[eq] / r[cmp_], 4) if r[cmp_] else None for r in rows],
                "copies": [r[cp] for r in rows], "copy_errors": [r[cpe] for r in rows],
            }
            continue
        out[side] = {
            "t": [p.ts for p in pts], "requests": [r[req] for r in rows],
            "rps": [round(r[req] / step, 3) for r in rows],
            "e4xx": [r[e4] for r in rows], "e5xx": [r[e5] for r in rows], "enone": [r[en] for r in rows],
            "error_rate": [round((r[e5] + r[en]) / r[req], 4) if r[req] else None for r in rows],
            "p50_ms": p50, "p95_ms": p95, "canary": [p.canary for p in pts],
        }
    return out


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 2)


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


def history_route(state: Any, authorized: Callable[[Request], bool], secure: Callable[[Response], Response],
                  store: Callable[[], HistoryStore] | None = None) -> Route:
    """The route web.py registers: session (or bearer) authenticated like /ui/data; never blocks the loop."""
    from proxy.history.recorder import facade_history

    def build(feature: str | None, range_name: str) -> dict[str, Any]:
        history = store() if store is not None else facade_history(state)
        snap = state.current
        known = list(snap.table.features) if snap is not None else []
        from proxy.ledger import default_ledger_path

        return history_document(history, state.store or default_ledger_path(), feature, range_name, known=known)

    async def endpoint(request: Request) -> Response:
        if not authorized(request):
            return secure(JSONResponse({"error": "unauthorized", "status": 401, "message": "log in at /ui/login "
                                        "(or send 'Authorization: Bearer <token>')"}, status_code=401))
        range_name = request.query_params.get("range", "1h")
        if range_name not in RANGES:
            return secure(JSONResponse({"error": "bad_range", "status": 400, "message": f"range {range_name!r} "
                                        f"is not one of {', '.join(RANGES)}. Fix: ?range=1h"}, status_code=400))
        feature = request.query_params.get("feature") or None
        began = time.perf_counter()
        try:
            doc = await asyncio.to_thread(build, feature, range_name)
        except Exception as exc:  # noqa: BLE001 - a broken store is a message, not a 500 page
            return secure(JSONResponse({"error": "history_unavailable", "status": 503,
                                        "message": f"cannot read the history: {type(exc).__name__}: {exc}. Fix: "
                                        "check the parity/shared store the façade uses"}, status_code=503))
        response = secure(JSONResponse(doc))
        # the time spent here, apart from the network and the client (the benchmark reports both)
        response.headers["Server-Timing"] = f"history;dur={(time.perf_counter() - began) * 1000:.2f}"
        return response

    return Route("/dashboard/api/history", endpoint, methods=["GET"])
