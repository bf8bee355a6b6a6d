"""The dashboard's detail endpoints: a feature's drill-down, the difference viewer's examples, repro downloads,
"add ignore rule" and the footprint picture.

Same security model as proxy/dashboard/web.py: reads need the session cookie (or the bearer token, for
scripts), the one write (POST /ui/ignore) needs the session's CSRF header and goes through
proxy.parity.ignore.add_ignore_rules — the code path of `strangler parity suggest-ignores --apply` — so it is
validated, comment-keeping and ledgered (actor "dashboard"). Downloads are the files `strangler parity export`
writes (proxy/parity/export.py: secrets as placeholders, never values).
"""
from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from proxy.dashboard import detail
from proxy.dashboard.data import DashboardData, _option, _var_dir
from proxy.dashboard.sessions import Sessions
from proxy.dashboard.web import csrf_problem, secure, session_of
from proxy.flips import FlipError
from proxy.ledger import read_records

FEATURE_LEDGER = 50
MAX_RULE = 300


def _error(status: int, code: str, message: str) -> Response:
    return secure(JSONResponse({"error": code, "status": status, "message": message}, status_code=status))


def footprint_svg_path() -> Path:
    """Where `strangler analyze` leaves its picture (next to var/footprint/analysis.json)."""
    return _var_dir() / "footprint" / "footprint.svg"


def detail_routes(state: Any, sessions: Sessions, data: DashboardData,
                  bearer_ok: Callable[[Request], bool]) -> list[Route]:
    def allowed(request: Request) -> bool:
        return session_of(request, sessions) is not None or bearer_ok(request)

    def feature_of(name: str) -> Any:
        return state.current.table.features.get(name)

    async def feature(request: Request) -> Response:
        if not allowed(request):
            return _error(401, "unauthorized", "log in at /ui/login")
        name = request.path_params["name"]
        if feature_of(name) is None:
            return _error(404, "not_found", f"no feature {name!r} in the route table")
        return secure(JSONResponse(await asyncio.to_thread(drill_down, name)))

    def drill_down(name: str) -> dict[str, Any]:
        with data.lock:  # the metrics window is not thread-safe: one build at a time
            doc = data.build()
        overview = next(f for f in doc["features"] if f["name"] == name)
        feat = state.current.table.features[name]
        span = max(float(doc["window_s"]), 1.0)  # what the window spans so far (the façade may be younger)
        lines = detail.access_tail(_option("strangler_access_log") or None, name, time.time() - span)
        shadow: list[dict[str, Any]] = []
        note = None
        try:
            store = data.parity_store()
            if store is not None:
                shadow = detail.shadow_copies(store, name, feat)
        except Exception as exc:  # noqa: BLE001 - a broken store is a note on the page
            note = f"cannot read the parity store: {type(exc).__name__}: {exc}"
        return {**overview, "window_s": span,
                "routes_traffic": detail.route_traffic(feat, lines, span),
                "access_log": bool(_option("strangler_access_log")),
                "shadow_copies": shadow, "shadow_note": note,
                "cohort": detail.cohort_split(feat, overview["sides"]),
                "feature_ledger": list(reversed(read_records(data.ledger_path(), name, FEATURE_LEDGER)))}

    async def examples(request: Request) -> Response:
        if not allowed(request):
            return _error(401, "unauthorized", "log in at /ui/login")
        name, field = request.query_params.get("feature", ""), request.query_params.get("field", "")
        feat = feature_of(name)
        if feat is None or not field:
            return _error(404, "not_found", f"no feature {name!r} (or no field given): open it from the parity table")

        def build() -> dict[str, Any]:
            store = data.parity_store()
            if store is None:
                return {"feature": name, "field": field, "examples": [], "note": "no parity store yet"}
            return detail.examples_view(store, name, feat, field)
        return secure(JSONResponse(await asyncio.to_thread(build)))

    async def export(request: Request) -> Response:
        if not allowed(request):
            return _error(401, "unauthorized", "log in at /ui/login")
        from proxy.parity.export import curl_script, pytest_file

        kind, raw = request.path_params["kind"], request.path_params["id"]
        if kind not in ("curl", "pytest") or not raw.isdigit():
            return _error(404, "not_found", "download /ui/export/ID/curl or /ui/export/ID/pytest")
        store = data.parity_store()
        example = None if store is None else await asyncio.to_thread(store.example, int(raw))
        if example is None:
            return _error(404, "not_found",
                          f"no mismatch example {raw}. Fix: list them with `strangler parity examples`")
        feat = feature_of(example.feature)
        rules = feat.parity if feat is not None else None
        text, name, media = ((curl_script(example, rules), f"mismatch_{example.id}.sh", "text/x-shellscript")
                             if kind == "curl" else
                             (pytest_file(example, rules), f"test_parity_mismatch_{example.id}.py", "text/x-python"))
        response = secure(Response(text, media_type=f"{media}; charset=utf-8"))
        response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
        return response

    async def ignore(request: Request) -> Response:
        session = session_of(request, sessions)
        if session is None:
            return _error(401, "unauthorized", "log in at /ui/login")
        problem = csrf_problem(request, session)
        if problem is not None:
            return _error(403, "csrf", problem)
        try:
            body = json.loads(await request.body() or b"null")
            name, rule = str(body["feature"]), str(body["rule"]).strip()
        except (ValueError, TypeError, KeyError):
            return _error(400, "bad_request", 'send {"feature": "...", "rule": "$.path"}')
        if feature_of(name) is None or not rule or len(rule) > MAX_RULE:
            return _error(400, "bad_request", f"no feature {name!r}, or an empty/too long rule")
        from proxy.parity.ignore import add_ignore_rules

        try:
            added = await asyncio.to_thread(add_ignore_rules, state.routes_path, name, [rule], actor="dashboard",
                                            ledger_path=data.ledger_path())
        except FlipError as exc:
            return _error(409, "refused", str(exc))
        reloaded = state.reload()
        return secure(JSONResponse({"added": added, "reloaded": reloaded, "table_version": state.current.version}))

    async def footprint(request: Request) -> Response:
        if not allowed(request):
            return _error(401, "unauthorized", "log in at /ui/login")
        path = footprint_svg_path()
        if not path.exists():
            return _error(404, "not_found", "no footprint picture yet. Fix: run `strangler analyze` (it writes "
                          f"{path})")
        response = secure(Response(path.read_bytes(), media_type="image/svg+xml"))
        response.headers["Content-Security-Policy"] = "default-src 'none'; style-src 'unsafe-inline'"
        return response

    return [
        Route("/ui/feature/{name}", feature, methods=["GET"]),
        Route("/ui/examples", examples, methods=["GET"]),
        Route("/ui/export/{id}/{kind}", export, methods=["GET"]),
        Route("/ui/ignore", ignore, methods=["POST"]),
        Route("/ui/footprint.svg", footprint, methods=["GET"]),
    ]
