"""A tiny loopback health endpoint for a running `migrate sync`, so the stack supervisor (which waits for a
port and GET /healthz) can run and watch it like any other process. Answers the last round's lag as JSON."""
from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from strangler.procs import is_loopback


class SyncHealth:
    def __init__(self, feature: str) -> None:
        self.state: dict[str, Any] = {"status": "starting", "feature": feature, "direction": None, "pending": None,
                                      "lag_s": None, "rounds": 0}
        self._server: ThreadingHTTPServer | None = None

    def update(self, direction: str, pending: int, lag_s: float) -> None:
        self.state.update(status="ok", direction=direction, pending=pending, lag_s=round(lag_s, 3),
                          rounds=self.state["rounds"] + 1)

    def serve(self, host: str, port: int) -> None:
        if not is_loopback(host):
            raise ValueError(f"health endpoint host {host!r} must be a loopback address such as 127.0.0.1")
        state = self.state

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                found = self.path.split("?")[0] == "/healthz"
                body = json.dumps(state if found else {"error": "not found"}).encode()
                self.send_response(200 if found else 404)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer((host, port), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True, name="sync-health").start()

    def close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
