"""A tiny legacy/candidate pair for the rule-change and normaliser live tests (issue 18, items 6 and 7):
UPSTREAM_ROLE=legacy|candidate.

GET /api/stamp/{n}  {"id": n, "servedAt": a per-call stamp (differs legacy-vs-legacy: noise),
                     "at": one instant ("+00:00" on legacy, "Z" on the candidate), "n": 1 vs "1",
                     "createdAt": when each side's database created the row (never equal across the two)}
GET /api/calm/{n}   the same answer on both sides, every time (no field ever varies)
GET /api/quiet/{n}  the same answer on both sides (a feature with no noise samples)

Run: UPSTREAM_ROLE=legacy uvicorn --app-dir tests/integration/parity rules_app:app --port N
"""
from __future__ import annotations

import itertools
import json
import os

ROLE = os.environ.get("UPSTREAM_ROLE", "legacy")
_calls = itertools.count()


async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    while (await receive()).get("more_body"):
        pass
    path, call = scope["path"], next(_calls)
    status, tail = 200, path.rsplit("/", 1)[-1]
    body: object
    if path == "/healthz":
        body = {"ok": True}
    elif path.startswith("/api/stamp/"):
        legacy = ROLE == "legacy"
        body = {"id": tail, "servedAt": f"2026-05-01T12:{call // 60 % 60:02d}:{call % 60:02d}.{call:06d}Z",
                "at": "2026-03-01T10:00:00+00:00" if legacy else "2026-03-01T10:00:00Z",
                "n": 1 if legacy else "1",
                "createdAt": "2026-01-01T08:00:00Z" if legacy else "2026-04-11T17:30:12Z"}
    elif path.startswith(("/api/calm/", "/api/quiet/")):
        body = {"id": tail, "name": "same on both sides"}
    else:
        status, body = 404, {"error": "not found"}
    raw = json.dumps(body).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(raw)).encode())]})
    await send({"type": "http.response.body", "body": raw})
