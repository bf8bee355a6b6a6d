"""`python -m new_services.catalog [--host 127.0.0.1] [--port 8101]` — run the service under uvicorn."""
from __future__ import annotations

import argparse

import uvicorn

from strangler.procs import is_loopback


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m new_services.catalog")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8101)
    args = parser.parse_args()
    if not is_loopback(args.host):
        parser.error(f"--host {args.host} is not a loopback address; the kit binds 127.0.0.1 or ::1 only")
    uvicorn.run("new_services.catalog.main:app", host=args.host, port=args.port)


if __name__ == "__main__":
    main()
