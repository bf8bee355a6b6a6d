"""A tiny ASGI upstream that fails on purpose: GET /flaky/{n} answers 500 when n is odd, else 200 JSON.
Used to prove that a feature whose target errors is rolled back by the façade on its own."""
from __future__ import annotations

import json


async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    path = scope["path"]
    status, body = 200, {"ok": True, "path": path}
    tail = path.rsplit("/", 1)[-1]
    if path.startswith("/flaky/") and tail.isdigit() and int(tail) % 2:
        status, body = 500, {"error": "injected failure"}
    data = json.dumps(body).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode())]})
    await send({"type": "http.response.body", "body": data})
