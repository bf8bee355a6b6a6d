"""A tiny ASGI upstream pair for the rollback-regression tests (UPSTREAM_ROLE=legacy|target).

GET /{prefix}/{n}      200 {"id": n} on both sides — except the target answers 403 to a request carrying
                       Authorization (a token the service rejects: the logged-in outage of issue 18)
GET /{prefix}/bad-{n}  500 on BOTH sides (an input the monolith fails on too)
"""
from __future__ import annotations

import json
import os

ROLE = os.environ.get("UPSTREAM_ROLE", "legacy")


async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    path = scope["path"]
    headers = {k.decode("latin-1").lower() for k, _ in scope["headers"]}
    tail = path.rsplit("/", 1)[-1]
    status, body = 200, {"id": tail}
    if path == "/healthz":
        body = {"status": "ok"}
    elif tail.startswith("bad-"):
        status, body = 500, {"error": "out of range"}
    elif ROLE == "target" and "authorization" in headers:
        status, body = 403, {"error": "forbidden"}
    data = json.dumps(body).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode())]})
    await send({"type": "http.response.body", "body": data})
