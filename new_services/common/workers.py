"""Several uvicorn worker processes, each accepting on a listening socket of its own (SO_REUSEPORT).

Why not `uvicorn --workers N`: its workers share one listening socket, and an asyncio server accepts every
pending connection in one go, so the first worker to wake takes a client's whole burst of keep-alive
connections (measured with wrk's 16 connections: 16, or 14 of them, on one of two workers) while the others
idle — one core does the work of all. With one socket per worker the kernel spreads new connections across
the sockets (by a hash of the address pair), as nginx's `reuseport` does. The façade keeps one upstream
connection per client connection, so production traffic meets the same imbalance.
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from types import FrameType

import uvicorn

STOP_TIMEOUT_S = 10.0


class PortInUse(RuntimeError):
    """The address is taken (possibly by an older copy of this service sharing the port)."""


def listening_sockets(host: str, port: int, count: int) -> list[socket.socket]:
    """`count` sockets bound to the same address with SO_REUSEPORT, after checking nobody listens there.

    A plain bind first: SO_REUSEPORT would otherwise silently share the port with a stale copy of the
    service still running as the same user, and the kernel would send it a share of the traffic."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise PortInUse(f"{host}:{port} is in use ({exc.strerror}). Fix: stop what listens there "
                            f"(`ss -ltnp 'sport = :{port}'`) or choose another --port") from None
    sockets = []
    for _ in range(count):
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, port))
        sock.listen(2048)
        sockets.append(sock)
    return sockets


def run_workers(app: str, host: str, port: int, count: int) -> int:
    """Serve `app` (an import string) from `count` processes; returns the exit code.

    The parent only supervises: SIGTERM/SIGINT stop every worker gracefully; a worker that dies stops the
    others and the parent exits non-zero, so the stack's supervisor restarts the service as a whole."""
    sockets = listening_sockets(host, port, count)
    workers = [subprocess.Popen([sys.executable, "-m", __name__, app, str(sock.fileno())], pass_fds=[sock.fileno()])
               for sock in sockets]
    for sock in sockets:
        sock.close()
    stopping = False

    def stop(_signum: int, _frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True
        for worker in workers:
            if worker.poll() is None:
                worker.terminate()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    os.waitid(os.P_ALL, 0, os.WEXITED | os.WNOWAIT)  # until the first worker ends (stopped or died)
    failed = not stopping
    if failed:
        died = next(w for w in workers if w.poll() is not None)
        print(f"{app} worker {died.pid} exited with {died.returncode}; stopping the others", file=sys.stderr)
        stop(signal.SIGTERM, None)
    for worker in workers:
        try:
            worker.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()
    return 1 if failed else 0


def serve_one(app: str, fd: int) -> None:
    """A worker: uvicorn on the listening socket inherited as `fd` (its address family read from the socket,
    which `uvicorn --fd` would take for a Unix socket)."""
    sock = socket.socket(fileno=fd)
    uvicorn.Server(uvicorn.Config(app, access_log=False)).run(sockets=[sock])


if __name__ == "__main__":
    serve_one(sys.argv[1], int(sys.argv[2]))
