"""Two sides of the token-rejection case (issue 18) as one tiny ASGI app: UPSTREAM_ROLE=legacy accepts any
Bearer token, UPSTREAM_ROLE=candidate rejects it with 403 and an error envelope; without a token both answer
401 alike (so a repro that silently drops the header "passes at once"). Also: a text/plain route whose body
differs (compared as text), and a route whose values differ only in format (instant, number, null vs "").
A client's dry-run protocol header (X-Strangler-Shadow / -Dry-Run-Ack, forged or replayed) that reached either
side would turn its answer into a 400, so a façade that let one through shows up in the comparisons.

Run: UPSTREAM_ROLE=legacy uvicorn --app-dir tests/integration/parity auth_app:app --port N
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
    headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
    path, n = scope["path"], next(_calls)
    ctype, status = "application/json", 200
    if path == "/healthz":
        body: object = {"ok": True}
    elif "x-strangler-shadow" in headers or "x-strangler-dry-run-ack" in headers:
        status, body = 400, {"error": "a client's dry-run header reached the upstream"}
    elif path == "/api/orders":
        token = headers.get("authorization", "")
        if not token:
            status, body = 401, {"error": "login required"}
        elif ROLE == "candidate":
            status, body = 403, {"error": "invalid token"}
        else:
            body = {"orders": [{"id": 1}, {"id": 2}], "lines": [1, 2], "servedAt": f"2026-01-01T00:00:{n % 60:02d}Z"}
    elif path == "/api/ping":
        ctype, body = "text/plain", "pong" if ROLE == "legacy" else "pong!"
    elif path == "/api/item":
        body = ({"createdAt": "2026-03-01T10:00:00+00:00", "price": 1, "note": None, "code": "ab"}
                if ROLE == "legacy" else
                {"createdAt": "2026-03-01T10:00:00Z", "price": "1", "note": "", "code": "AB"})
    else:
        status, body = 404, {"error": "not found"}
    raw = body.encode() if isinstance(body, str) else json.dumps(body).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", ctype.encode()), (b"content-length", str(len(raw)).encode())]})
    await send({"type": "http.response.body", "body": raw})
