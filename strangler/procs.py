"""Start, health-check and stop real OS processes on loopback ports.

The supervisor and the test-suite share these helpers so that "start a server and wait until it answers"
has one implementation with bounded timeouts and a guaranteed stop.
"""
from __future__ import annotations

import contextlib
import os
import random
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import IO

import httpx

from proxy.net import is_loopback  # noqa: F401 - re-exported: one rule for the whole kit


class ProcessFailed(RuntimeError):
    """A process exited early or never became healthy; the message carries its log tail."""


class PortRangeError(ValueError):
    """STRANGLER_PORT_RANGE is set to something that is not a usable port range."""


LISTEN_PORTS = (10000, 32767)  # below Linux's default ephemeral range (32768-60999)
PORT_RANGE_ENV = "STRANGLER_PORT_RANGE"
_handed_out: set[int] = set()  # ports this process chose: not chosen again until the range runs out
_handed_out_lock = threading.Lock()


def _ephemeral_range() -> tuple[int, int]:
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return int(low), int(high)
    except (OSError, ValueError):
        return 32768, 60999


def listen_ports(env: Mapping[str, str] | None = None) -> tuple[int, int]:
    """The range free_port chooses from: STRANGLER_PORT_RANGE ("low-high") or LISTEN_PORTS.

    Why: processes that choose ports side by side (parallel test workers, two stacks started at once) each
    get their own slice, so none takes a port another chose but has not bound yet."""
    text = (os.environ if env is None else env).get(PORT_RANGE_ENV, "").strip()
    if not text:
        return LISTEN_PORTS
    try:
        low, high = (int(part) for part in text.split("-"))
    except ValueError:
        low = high = -1
    if not 1024 <= low < high <= 65535:
        raise PortRangeError(f"{PORT_RANGE_ENV}={text!r} is not a port range. Fix: write it as LOW-HIGH with "
                         f"1024 <= LOW < HIGH <= 65535, e.g. {LISTEN_PORTS[0]}-{LISTEN_PORTS[1]}, or unset it.")
    return low, high


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that is free on `host` right now, chosen OUTSIDE the ephemeral range, never one this process
    already chose.

    Why: a port the OS hands out for bind(0) comes from the same range as the source ports of outgoing
    connections, so between choosing it and a server binding it, any client (ours or another process's) can
    take it ("address already in use"). Ports below that range are never given to outgoing connections.
    A port chosen a moment ago is still free until its server binds it: a second choice could return it
    again (a façade then found its legacy's port taken)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    low, high = listen_ports()
    ephemeral = _ephemeral_range()
    with _handed_out_lock:
        for _ in range(2):  # the second pass after every port of the range was handed out once
            for port in _candidates(low, high):
                if ephemeral[0] <= port <= ephemeral[1] or port in _handed_out:
                    continue
                with socket.socket(family) as sock:
                    try:
                        sock.bind((host, port))
                    except OSError:
                        continue
                _handed_out.add(port)
                return port
            _handed_out.clear()
        with socket.socket(family) as sock:  # the whole range is busy: the OS's choice
            sock.bind((host, 0))
            return int(sock.getsockname()[1])


def _candidates(low: int, high: int) -> Iterator[int]:
    """Random ports of [low, high], then every port of it once from a random start (bounded either way)."""
    rng = random.Random()
    for _ in range(64):
        yield rng.randint(low, high)
    span, start = high - low + 1, rng.randint(0, high - low)
    for offset in range(span):
        yield low + (start + offset) % span


def port_in_use(port: int, host: str = "127.0.0.1") -> bool:
    """True when something listens on host:port or holds it bound.

    The bind probe uses SO_REUSEADDR like the servers we start do, so a port left in TIME_WAIT by a
    server that just stopped counts as free (otherwise `down` then `up` fails for a minute).
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family) as sock:
        sock.settimeout(0.2)
        if sock.connect_ex((host, port)) == 0:
            return True
    with socket.socket(family) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return True
    return False


def log_tail(path: Path | None, lines: int = 30) -> str:
    if path is None or not path.exists():
        return ""
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def spawn(argv: Sequence[str], *, env: Mapping[str, str] | None = None, log_path: Path | None = None,
          cwd: Path | None = None) -> subprocess.Popen:
    """Start `argv` in its own session (so the whole group can be stopped), output to `log_path`."""
    full_env = {**os.environ, **(env or {})}
    out: IO[bytes] | int
    if log_path is not None:
        log_path.parent.mkdir(parents=True, exist_ok=True)
        out = open(log_path, "ab")  # noqa: SIM115 - handed to the child, closed below
    else:
        out = subprocess.DEVNULL
    try:
        return subprocess.Popen(list(argv), env=full_env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
    finally:
        if not isinstance(out, int):  # our log file (not DEVNULL): the child has its own copy
            out.close()


def wait_http(url: str, *, timeout: float = 30.0, proc: subprocess.Popen | None = None,
              log_path: Path | None = None, expect_status: int | None = None) -> None:
    """Poll `url` until it answers (any status < 500, or exactly `expect_status`) or fail with the log tail.
    One client for the whole wait: a new one per poll loads the CA bundle each time (~60 ms of CPU, taken
    from the process being waited for on a small machine)."""
    deadline = time.monotonic() + timeout
    last_error = "no answer yet"
    with httpx.Client(timeout=2.0) as client:
        while time.monotonic() < deadline:
            if proc is not None and proc.poll() is not None:
                raise ProcessFailed(f"process exited with code {proc.returncode} before {url} answered\n"
                                    f"{log_tail(log_path)}")
            try:
                response = client.get(url)
                if (expect_status is None and response.status_code < 500) or response.status_code == expect_status:
                    return
                last_error = f"HTTP {response.status_code}"
            except httpx.HTTPError as exc:
                last_error = type(exc).__name__
            time.sleep(0.1)
    raise ProcessFailed(f"{url} did not become healthy within {timeout:.0f}s ({last_error})\n{log_tail(log_path)}")


def stop(proc: subprocess.Popen, *, grace: float = 10.0) -> int | None:
    """SIGTERM the process group, wait up to `grace` seconds, then SIGKILL. Returns the exit code."""
    if proc.poll() is not None:
        return proc.returncode
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        return proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        return proc.wait(timeout=5)


@contextlib.contextmanager
def running(argv: Sequence[str], *, health_url: str, env: Mapping[str, str] | None = None,
            log_path: Path | None = None, cwd: Path | None = None, timeout: float = 30.0,
            expect_status: int | None = None) -> Iterator[subprocess.Popen]:
    """Run a server for the duration of a `with` block: started, healthy, and always stopped."""
    proc = spawn(argv, env=env, log_path=log_path, cwd=cwd)
    try:
        wait_http(health_url, timeout=timeout, proc=proc, log_path=log_path, expect_status=expect_status)
        yield proc
    finally:
        stop(proc)
