"""An uncooperative monolith for the identity endpoint: healthy on /healthz, but its /__strangler/identity
closes the connection without answering (UNCOOPERATIVE=close) or answers only after 30 s (UNCOOPERATIVE=slow).
Standard library only. Run: python uncooperative.py PORT."""
from __future__ import annotations

import os
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MODE = os.environ.get("UNCOOPERATIVE", "close")


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b'{"status": "ok"}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:
        if MODE == "slow":
            time.sleep(30)
        self.close_connection = True  # no status line at all: the connection just closes

    def log_message(self, *args: object) -> None:
        pass


if __name__ == "__main__":
    ThreadingHTTPServer.daemon_threads = True
    ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
