"""A real FastAPI service that fails the way a buggy one does: an unhandled error on one path.

Starlette answers 500 and re-raises; uvicorn then closes the kept-alive connection (after logging the
traceback), so the façade must never reuse that connection. Every other request answers JSON naming the
service and counts what reached it, so tests can tell a retry (two arrivals) from a single request.
Run: uvicorn --app-dir tests/integration/proxy crash_app:app --port N
"""
from __future__ import annotations

from collections import Counter

from fastapi import FastAPI, Request

app = FastAPI()
arrivals: Counter[str] = Counter()


@app.get("/healthz")
def healthz() -> dict:
    return {"status": "ok"}


@app.get("/__arrivals")
def get_arrivals() -> dict:
    return dict(arrivals)


@app.api_route("/api/things/{thing_id}", methods=["GET", "POST", "PUT", "DELETE"])
async def thing(thing_id: str, request: Request) -> dict:
    arrivals[f"{request.method} {thing_id}"] += 1
    if thing_id == "boom":
        raise RuntimeError("unhandled bug in the service")
    return {"served_by": "svc", "method": request.method, "id": thing_id, "bytes": len(await request.body())}
