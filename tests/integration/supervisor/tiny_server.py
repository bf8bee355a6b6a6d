"""A tiny real HTTP server whose misbehaviour the supervisor tests choose from the command line.

    tiny_server.py NAME PORT [--unhealthy] [--crash-after S [--once-healthy]] [--crash-times N --counter FILE]
                   [--peer-port P]

/healthz answers 200 JSON {"name", "pid", "peer_port"} (503 with --unhealthy). --crash-after exits with code 3
after S seconds (counted from its first health answer with --once-healthy, so a busy machine's late health
check cannot see it die first); with --counter it only does so for the first N starts (counted in FILE), so a
restart can succeed.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("name")
    parser.add_argument("port", type=int)
    parser.add_argument("--unhealthy", action="store_true")
    parser.add_argument("--crash-after", type=float)
    parser.add_argument("--once-healthy", action="store_true", help="start --crash-after at the first /healthz")
    parser.add_argument("--crash-times", type=int, default=0, help="0 = crash on every start")
    parser.add_argument("--counter", type=Path)
    parser.add_argument("--peer-port", type=int)
    args = parser.parse_args()

    starts = 1
    if args.counter is not None:
        starts = int(args.counter.read_text()) + 1 if args.counter.exists() else 1
        args.counter.write_text(str(starts))

    crashes = args.crash_after is not None and (args.crash_times == 0 or starts <= args.crash_times)
    armed = threading.Event()

    def crash() -> None:
        print(f"tiny server {args.name} crashing on purpose", flush=True)
        os._exit(3)

    def arm() -> None:
        if crashes and not armed.is_set():
            armed.set()
            threading.Timer(args.crash_after, crash).start()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # http.server naming
            status = 503 if args.unhealthy else 200
            if args.once_healthy and status == 200:
                arm()
            body = json.dumps({"name": args.name, "pid": os.getpid(), "peer_port": args.peer_port}).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, fmt: str, *items: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    print(f"tiny server {args.name} listening on {args.port} (start #{starts}, pid {os.getpid()})", flush=True)
    if not args.once_healthy:
        arm()
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()
    sys.exit(0)


if __name__ == "__main__":
    main()
