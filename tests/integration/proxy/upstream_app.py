"""A tiny ASGI upstream for façade tests: answers JSON naming itself and remembers what it received.

Run: UPSTREAM_NAME=legacy uvicorn tests.integration.proxy.upstream_app:app --port N
GET /__received lists the requests it saw (method, path, host, headers); POST /__reset clears them.
GET /slow?s=2 sleeps before answering; /status/503 answers that status.
"""
from __future__ import annotations

import asyncio
import json
import os
from urllib.parse import parse_qs

from proxy.common.asgi import read_body

NAME = os.environ.get("UPSTREAM_NAME", "upstream")
received: list[dict] = []


async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    body = await read_body(receive)
    path = scope["path"]
    headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
    status, payload = 200, {"served_by": NAME, "method": scope["method"], "path": path}
    if path == "/__received":
        payload = {"received": received}
    elif path == "/__reset":
        received.clear()
    elif path == "/healthz":
        payload = {"status": "ok", "served_by": NAME}
    else:
        received.append({"method": scope["method"], "path": path, "query": scope["query_string"].decode(),
                         "host": headers.get("host"), "headers": headers, "body_len": len(body)})
        if path == "/slow":
            await asyncio.sleep(float(parse_qs(scope["query_string"].decode()).get("s", ["1"])[0]))
        elif path.startswith("/status/"):
            status = int(path.rsplit("/", 1)[1])
    data = json.dumps(payload).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode())]})
    await send({"type": "http.response.body", "body": data})


if os.environ.get("UPSTREAM_DRY_RUN_KEY"):  # a shadow target that speaks the dry-run protocol (strangler_app)
    from strangler_app.asgi import DryRunMiddleware

    app = DryRunMiddleware(app, key=os.environ["UPSTREAM_DRY_RUN_KEY"])  # the same app, wrapped
