"""`python -m new_services.orders [--host 127.0.0.1] [--port 8102]` — run the service under uvicorn."""
from __future__ import annotations

import argparse

import uvicorn

from strangler.procs import is_loopback


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m new_services.orders")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8102)
    args = parser.parse_args()
    if not is_loopback(args.host):
        parser.error(f"--host {args.host} is not a loopback address; the kit binds 127.0.0.1 or ::1 only")
    uvicorn.run("new_services.orders.main:app", host=args.host, port=args.port)


if __name__ == "__main__":
    main()
