"""How every service starts: `python -m new_services.<name>` under uvicorn on loopback, and the ASGI `app`
built from settings that stop start-up with a clear message (not a traceback) when something is missing."""
from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Any

import uvicorn

from new_services.common.settings import SettingsError
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
    args = parser.parse_args()
    if not is_loopback(args.host):
        parser.error(f"--host {args.host} is not a loopback address; the kit binds 127.0.0.1 or ::1 only")
    uvicorn.run(f"new_services.{service}.main:app", host=args.host, port=args.port)
