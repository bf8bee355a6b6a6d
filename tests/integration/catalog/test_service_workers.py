"""`python -m new_services.catalog --workers N`: one listening socket per worker (new_services/common/workers.py).

Real processes on a free loopback port. The spread test holds 16 keep-alive connections open, as wrk or the
façade does; with `uvicorn --workers 2` one worker took 14 or all 16 of them. With a socket per worker the
kernel hashes each connection to a socket: all 16 on one of 2 workers has probability 2 / 2**16.
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from strangler.procs import free_port, running, spawn, stop

REPO = Path(__file__).resolve().parents[3]
WORKERS = 2
CONNECTIONS = 16


def service_env(tmp: Path) -> dict[str, str]:
    return {"CATALOG_DATABASE_URL": f"sqlite:///{tmp}/catalog.db", "STRANGLER_SHADOW_KEY": "workers-test-key-0123456",
            "LEGACY_BASE_URL": "http://127.0.0.1:9", "STRANGLER_VAR_DIR": str(tmp / "var")}


def argv(port: int) -> list[str]:
    return [sys.executable, "-m", "new_services.catalog", "--port", str(port), "--workers", str(WORKERS)]


def workers_of(parent: int) -> list[psutil.Process]:
    """The uvicorn workers: children that listen (the only children)."""
    return [child for child in psutil.Process(parent).children()
            if any(c.status == psutil.CONN_LISTEN for c in child.net_connections(kind="tcp"))]


@pytest.fixture
def service(tmp_path: Path) -> Iterator[tuple[subprocess.Popen, int]]:
    port = free_port()
    with running(argv(port), health_url=f"http://127.0.0.1:{port}/healthz", env=service_env(tmp_path), cwd=REPO,
                 log_path=tmp_path / "catalog.log") as proc:
        yield proc, port


def keep_alive_connection(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    answer = b""
    while b"\r\n\r\n" not in answer:
        answer += sock.recv(4096)
    assert answer.startswith(b"HTTP/1.1 200"), answer[:200]
    return sock


def test_keep_alive_connections_spread_over_every_worker(service: tuple[subprocess.Popen, int]) -> None:
    proc, port = service
    sockets = [keep_alive_connection(port) for _ in range(CONNECTIONS)]
    try:
        held = {w.pid: sum(1 for c in w.net_connections(kind="tcp")
                           if c.status == psutil.CONN_ESTABLISHED and c.laddr.port == port)
                for w in workers_of(proc.pid)}
    finally:
        for sock in sockets:
            sock.close()
    print(f"connections per worker: {held}")
    assert len(held) == WORKERS
    assert sum(held.values()) == CONNECTIONS
    assert min(held.values()) > 0, f"one worker holds every connection: {held}"


def test_sigterm_stops_every_worker(service: tuple[subprocess.Popen, int]) -> None:
    proc, _ = service
    workers = workers_of(proc.pid)
    assert len(workers) == WORKERS
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=60) == 0
    _gone, alive = psutil.wait_procs(workers, timeout=30)
    assert not alive


def test_a_dead_worker_stops_the_service_so_the_supervisor_restarts_it(
        service: tuple[subprocess.Popen, int]) -> None:
    proc, _ = service
    first, second = workers_of(proc.pid)
    os.kill(first.pid, signal.SIGKILL)
    assert proc.wait(timeout=60) == 1
    _gone, alive = psutil.wait_procs([second], timeout=30)
    assert not alive


def test_a_port_in_use_is_refused_with_the_fix(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        proc = spawn(argv(port), env=service_env(tmp_path), cwd=REPO, log_path=tmp_path / "catalog.log")
        try:
            code = proc.wait(timeout=60)
        finally:
            stop(proc)
    log = (tmp_path / "catalog.log").read_text()
    assert code == 2, log
    assert f"127.0.0.1:{port} is in use" in log and "Fix:" in log
    assert "Traceback" not in log
