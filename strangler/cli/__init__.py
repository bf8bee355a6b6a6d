"""`strangler` console entry point.

Command modules register themselves on the root app when imported. A call imports only the module that owns
its command (scripts and the walkthrough run dozens of `strangler` calls, and importing everything costs about
a second each); `--help` or an unknown command imports them all so the listing and errors stay complete.
"""
from __future__ import annotations

import importlib
import sys

from strangler.cli.app import app

MODULES = ("stack", "routes", "migrate", "analyze", "parity", "load", "export", "demo", "tls", "init", "add")
OWNER = {"up": "stack", "down": "stack", "logs": "stack", "url": "stack", "routes": "routes", "flip": "routes",
         "ledger": "routes", "migrate": "migrate", "analyze": "analyze", "parity": "parity", "load": "load",
         "export": "export", "demo": "demo", "tls": "tls", "init": "init", "add": "add",
         "record": "parity"}  # `strangler record` is registered by the parity module (it shares its store)
# `status` lives in the stack module; its sections (strangler.status.SECTIONS) import their own modules
EXTRA = {"status": ("stack",)}


def modules_for(argv: list[str]) -> tuple[str, ...]:
    if argv[:1] == ["--project"]:  # the root option's value is not a command
        argv = argv[2:]
    command = next((arg for arg in argv if not arg.startswith("-")), None)
    if command in EXTRA:
        return EXTRA[command]
    return (OWNER[command],) if command in OWNER else MODULES


def main() -> None:
    for module in modules_for(sys.argv[1:]):
        importlib.import_module(f"strangler.cli.{module}")
    app()
