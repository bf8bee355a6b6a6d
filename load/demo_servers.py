"""How the demo benchmarks start the monolith and a service: as config/stack.yaml runs them, so a figure
describes the deployed set-up (the monolith on gthread workers with keep-alive, a service on one listening
socket per worker) and not a configuration nobody runs."""
from __future__ import annotations

import sys


def monolith_argv(port: int, workers: int = 2) -> list[str]:
    """gunicorn gthread with keep-alive, as the stack runs `legacy` (the façade reuses upstream connections)."""
    return [sys.executable, "-m", "gunicorn", "--workers", str(workers), "--worker-class", "gthread",
            "--threads", "4", "--keep-alive", "75", "--no-control-socket", "--log-level", "warning",
            "--bind", f"127.0.0.1:{port}", "legacy_monolith.wsgi:app"]


def service_argv(service: str, port: int, workers: int = 2) -> list[str]:
    """`python -m new_services.NAME`, as the stack runs it (workers spread over SO_REUSEPORT sockets)."""
    return [sys.executable, "-m", f"new_services.{service}", "--host", "127.0.0.1", "--port", str(port),
            "--workers", str(workers)]
