"""How every service starts: `python -m new_services.<name>` under uvicorn on loopback, and the ASGI `app`
built from settings that stop start-up with a clear message (not a traceback) when something is missing."""
from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Any

import uvicorn

from new_services.common.settings import SettingsError
from new_services.common.workers import PortInUse, run_workers
from proxy.net import is_loopback


def build_app(service: str, create_app: Callable[[], Any]) -> Any:
    try:
        return create_app()
    except SettingsError as exc:
        print(f"{service} service cannot start.\n{exc}", file=sys.stderr)
        raise SystemExit(2) from None


def run(service: str, default_port: int) -> None:
    parser = argparse.ArgumentParser(prog=f"python -m new_services.{service}")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=default_port)
    parser.add_argument("--workers", type=int, default=1,
                        help="processes, each with its own listening socket (new_services/common/workers.py)")
    args = parser.parse_args()
    if not is_loopback(args.host):
        parser.error(f"--host {args.host} is not a loopback address; the kit binds 127.0.0.1 or ::1 only")
    if args.workers < 1:
        parser.error(f"--workers {args.workers} is not a process count. Fix: give 1 or more")
    app = f"new_services.{service}.main:app"
    if args.workers == 1:
        uvicorn.run(app, host=args.host, port=args.port, access_log=False)
        return
    try:
        raise SystemExit(run_workers(app, args.host, args.port, args.workers))
    except PortInUse as exc:
        print(f"{service} service cannot start: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
