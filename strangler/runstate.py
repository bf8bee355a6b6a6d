"""Run-state files shared by every `strangler` invocation: who supervises (var/run/supervisor.pid), what runs
where (var/run/stack.json), and how to stop it from another shell (`strangler down`)."""
from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import time
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import Any

from proxy.common.files import atomic_write

PID_FILE = "supervisor.pid"
STATE_FILE = "stack.json"


class StackStatus(StrEnum):
    """The supervisor's `status` in stack.json (the text is what `strangler status` and scripts read)."""

    STARTING = "starting"
    RUNNING = "running"
    STOPPING = "stopping"
    STOPPED = "stopped"
    FAILED = "failed"


class ProcessStatus(StrEnum):
    """One supervised process's `status` in stack.json."""

    PENDING = "pending"
    SETUP = "setup"
    STARTING = "starting"
    HEALTHY = "healthy"
    RESTARTING = "restarting"
    EXITED = "exited"
    FAILED = "failed"
    STOPPED = "stopped"


# ---------------------------------------------------------------- pid + state files

def pid_alive(pid: int | None) -> bool:
    """True if `pid` runs and is not a zombie (an exited child nobody reaped yet counts as gone)."""
    if not pid or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    with contextlib.suppress(OSError):
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[0] != "Z"
    return True


def _started_before(pid: int, moment: float) -> bool:
    """Guard against a recycled pid in a stale pid file: our process must be older than the file it wrote."""
    try:
        ticks = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19])
        boot = next(float(line.split()[1]) for line in Path("/proc/stat").read_text().splitlines()
                    if line.startswith("btime "))
    except (OSError, ValueError, IndexError, StopIteration):
        return True  # no /proc (macOS): trust the pid file
    return boot + ticks / os.sysconf("SC_CLK_TCK") <= moment + 2.0


def read_state(run_dir: Path) -> dict[str, Any] | None:
    try:
        return json.loads((run_dir / STATE_FILE).read_text())
    except (OSError, ValueError):
        return None


def write_state(run_dir: Path, state: dict[str, Any]) -> None:
    """Atomic replace, so a reader never sees half a file."""
    atomic_write(run_dir / STATE_FILE, json.dumps(state, indent=2))


def running_supervisor(run_dir: Path) -> int | None:
    """The pid of a live supervisor, or None (a stale pid file is removed)."""
    pid_file = run_dir / PID_FILE
    try:
        pid, written = int(pid_file.read_text().strip()), pid_file.stat().st_mtime
    except (OSError, ValueError):
        return None
    if pid_alive(pid) and _started_before(pid, written):
        return pid
    pid_file.unlink(missing_ok=True)
    return None


def rotate_log(path: Path) -> None:
    """Keep one previous log so a failure's tail shows this run only."""
    if path.exists():
        os.replace(path, path.with_name(path.name + ".1"))


def accepts_connections(host: str, port: int) -> bool:
    """A TCP connect succeeds: the health check for processes without an HTTP health path."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def _terminate(pid: int, send: Callable[[int, int], None], grace: float) -> bool:
    """SIGTERM, up to `grace` seconds for `pid` to go, then SIGKILL; True when it had to be killed."""
    send(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while pid_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    if not pid_alive(pid):
        return False
    send(pid, signal.SIGKILL)
    return True


def _kill_group(pid: int, grace: float) -> None:
    """Stop a leftover process group (its leader's pid is the group id, see procs.spawn)."""
    with contextlib.suppress(OSError):
        if os.getpgid(pid) != pid:
            return  # the pid was recycled by something that is not ours
        _terminate(pid, os.killpg, grace)


def stop_stack(var_dir: Path, *, timeout: float = 30.0) -> list[str]:
    """Stop the running supervisor (it stops its processes) and any leftovers; returns what was done."""
    run_dir, done = var_dir / "run", []
    pid = running_supervisor(run_dir)
    if pid:
        if _terminate(pid, os.kill, timeout):
            done.append(f"supervisor (pid {pid}) did not stop within {timeout:.0f}s — killed it")
        else:
            done.append(f"stopped the supervisor (pid {pid}) and its processes")
        (run_dir / PID_FILE).unlink(missing_ok=True)
    state = read_state(run_dir)
    if state:
        for name, proc in state.get("processes", {}).items():
            if pid_alive(proc.get("pid")):
                _kill_group(proc["pid"], grace=10)
                done.append(f"stopped leftover '{name}' (pid {proc['pid']})")
                proc["status"] = ProcessStatus.STOPPED
        if state.get("status") not in (StackStatus.STOPPED, StackStatus.FAILED):
            state["status"] = StackStatus.STOPPED
        write_state(run_dir, state)
    return done


def process_urls(var_dir: Path) -> dict[str, str]:
    """name -> base URL of every process in the last known stack state (empty when none ran here)."""
    state = read_state(var_dir / "run") or {}
    return {name: proc["url"] for name, proc in (state.get("processes") or {}).items() if proc.get("url")}
