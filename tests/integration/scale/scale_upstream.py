"""A tiny ASGI upstream for the façade's protocol tests: names itself, echoes WebSocket messages, and streams
large bodies both ways without holding them (checksums prove they arrived whole).

Run: UPSTREAM_NAME=svc uvicorn scale_upstream:app --app-dir tests/integration/scale --port N
GET /healthz; GET /api/things -> {"served_by"}; POST /upload -> {"bytes", "sha256"} of the body;
GET /download?mb=N -> N MiB of `pattern_chunk()` with a Content-Length; WS /ws -> echoes "NAME:<text>".
"""
from __future__ import annotations

import hashlib
import json
import os
from urllib.parse import parse_qs

NAME = os.environ.get("UPSTREAM_NAME", "upstream")
MIB = 1024 * 1024


def pattern_chunk() -> bytes:
    """1 MiB of a fixed pattern (test and upstream build the same bytes to compare checksums)."""
    return bytes(range(256)) * (MIB // 256)


async def _json(send, payload: dict, status: int = 200) -> None:
    body = json.dumps(payload).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


async def _websocket(scope, receive, send) -> None:
    msg = await receive()
    if msg["type"] != "websocket.connect":
        return
    await send({"type": "websocket.accept"})
    while True:
        msg = await receive()
        if msg["type"] == "websocket.disconnect":
            return
        if msg.get("text") is not None:
            await send({"type": "websocket.send", "text": f"{NAME}:{msg['text']}"})
        elif msg.get("bytes") is not None:
            await send({"type": "websocket.send", "bytes": msg["bytes"]})


async def app(scope, receive, send):
    if scope["type"] == "websocket":
        await _websocket(scope, receive, send)
        return
    if scope["type"] != "http":
        return
    path = scope["path"]
    if path == "/upload":
        digest, size = hashlib.sha256(), 0
        while True:
            msg = await receive()
            chunk = msg.get("body", b"")
            digest.update(chunk)
            size += len(chunk)
            if not msg.get("more_body"):
                break
        await _json(send, {"served_by": NAME, "bytes": size, "sha256": digest.hexdigest()})
        return
    while (await receive()).get("more_body"):
        pass
    if path == "/download":
        mb = int(parse_qs(scope["query_string"].decode()).get("mb", ["1"])[0])
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"application/octet-stream"),
                                (b"content-length", str(mb * MIB).encode())]})
        chunk = pattern_chunk()
        for i in range(mb):
            await send({"type": "http.response.body", "body": chunk, "more_body": i < mb - 1})
        return
    await _json(send, {"served_by": NAME, "path": path})
