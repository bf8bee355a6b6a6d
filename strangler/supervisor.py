"""Run the processes of a stack plan: setup, start in order, wait for health, restart on failure, stop in reverse.

One supervisor process owns the stack. `strangler up` runs it in the foreground; `--detach` runs the very same
code as a background `strangler up` and waits for it to report. State lives in var/run/ so `status` and
`down` work from any shell: supervisor.pid (who to signal) and stack.json (what runs where).
"""
from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from proxy.common.clock import stamp
from strangler.procs import ProcessFailed, free_port, log_tail, port_in_use, spawn, stop, wait_http
from strangler.runstate import (
    PID_FILE,
    ProcessStatus,
    StackStatus,
    accepts_connections,
    read_state,
    rotate_log,
    running_supervisor,
    write_state,
)
from strangler.stack import ResolvedProcess, StackPlan, port_env_name

STABLE_AFTER_S = 60.0  # a process that ran this long before crashing gets its restart budget back
TAIL_LINES = 30


class StackError(RuntimeError):
    """The stack could not start or stop; the message (with log tail) is for the operator as-is."""


class StopRequested(StackError):
    """SIGTERM/SIGINT arrived while the stack was starting."""


def preflight(plan: StackPlan) -> None:
    """Refuse to start anything when a port is taken or used twice — before any process is spawned."""
    problems: list[str] = []
    seen: dict[int, str] = {}
    claimed = {p.port for p in plan.processes}  # a suggestion never lands on another process of the stack
    for p in plan.processes:
        if p.port in seen:
            problems.append(f"port {p.port} is set for both '{seen[p.port]}' and '{p.name}' — give one of them "
                            f"another port: --port {p.name}=<port>")
            continue
        seen[p.port] = p.name
        if port_in_use(p.port, p.host):
            spare = spare_port(p.port, p.host, claimed)
            claimed.add(spare)
            problems.append(f"port {p.port} for '{p.name}' is already in use — stop what runs there, or pick "
                            f"another port: --port {p.name}={spare} "
                            f"(or {port_env_name(p.name)}={spare})")
    if problems:
        raise StackError("\n".join(problems))


def spare_port(after: int, host: str, claimed: set[int], tries: int = 50) -> int:
    """The first port above `after` that is free now and claimed by no process of the stack (the OS's pick
    when none of the next `tries` is)."""
    for port in range(after + 1, min(after + 1 + tries, 65536)):
        if port not in claimed and not port_in_use(port, host):
            return port
    for _ in range(tries):  # the OS hands out free ports; one of the stack's is possible, twice in a row unlikely
        port = free_port(host)
        if port not in claimed:
            return port
    raise StackError(f"no free port found near {after} on {host}. Fix: free some ports, or pass --port NAME=PORT")


# ---------------------------------------------------------------- the supervisor

@dataclass
class Slot:
    spec: ResolvedProcess
    proc: subprocess.Popen[bytes] | None = None
    status: ProcessStatus = ProcessStatus.PENDING
    restarts: int = 0
    started_at: float | None = None
    exit_code: int | None = None
    next_restart_at: float = 0.0
    message: str | None = None

    @property
    def running(self) -> subprocess.Popen[bytes]:
        """The spawned process (asked for only after `Supervisor._spawn`)."""
        if self.proc is None:
            raise StackError(f"'{self.spec.name}' was never started")
        return self.proc


class Supervisor:
    """Owns the child processes of one plan. Reusable in-process: `with Supervisor(plan) as sup: ...`."""

    def __init__(self, plan: StackPlan, *, log: Callable[[str], None] | None = None,
                 stop_event: threading.Event | None = None) -> None:
        self.plan = plan
        self.slots = [Slot(p) for p in plan.processes]
        self.stop_event = stop_event or threading.Event()
        self.started_at = stamp()
        self.status = StackStatus.STARTING
        self.error: str | None = None
        self._log = log or (lambda msg: print(f"[supervisor {stamp()}] {msg}", flush=True))

    @property
    def run_dir(self) -> Path:
        return self.plan.var_dir / "run"

    # -- state ------------------------------------------------------------
    def state(self) -> dict[str, Any]:
        return {
            "supervisor_pid": os.getpid(), "stack_file": str(self.plan.stack_file.resolve()),
            "started_at": self.started_at, "status": self.status, "error": self.error,
            "processes": {s.spec.name: {
                "pid": s.proc.pid if s.proc else None, "host": s.spec.host, "port": s.spec.port,
                "url": s.spec.url, "health_url": s.spec.health_url, "log": str(s.spec.log_path),
                "status": s.status, "restarts": s.restarts, "exit_code": s.exit_code,
                "started_at": s.started_at, "message": s.message,
            } for s in self.slots},
        }

    def save(self) -> None:
        write_state(self.run_dir, self.state())

    # -- start ------------------------------------------------------------
    def __enter__(self) -> Supervisor:
        try:
            self.start()
        except BaseException:
            self.stop_all()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop_all()

    def start(self) -> None:
        """Setup + start every process in order, each healthy before the next. Raises StackError."""
        preflight(self.plan)
        for slot in self.slots:
            rotate_log(slot.spec.log_path)
        self.save()
        for slot in self.slots:
            self._run_setup(slot)
            self._spawn(slot)
            self._wait_healthy(slot)
            self._log(f"'{slot.spec.name}' is healthy at {slot.spec.url} (pid {slot.running.pid})")
        self.status = StackStatus.RUNNING
        self.save()

    def _check_stop(self) -> None:
        if self.stop_event.is_set():
            raise StopRequested("stop requested while starting")

    def _run_setup(self, slot: Slot) -> None:
        spec = slot.spec
        for step in spec.setup:
            slot.status = ProcessStatus.SETUP
            self.save()
            self._log(f"setup for '{spec.name}': {' '.join(step)}")
            try:
                proc = spawn(step, env=spec.env, log_path=spec.log_path, cwd=spec.cwd)
            except OSError as exc:
                raise StackError(f"setup command for '{spec.name}' cannot run: {exc.strerror}: {step[0]} — "
                                 f"fix `setup:` of '{spec.name}' in {self.plan.stack_file}") from None
            deadline = time.monotonic() + spec.setup_timeout
            try:
                while proc.poll() is None:
                    self._check_stop()
                    if time.monotonic() > deadline:
                        raise StackError(f"setup command for '{spec.name}' did not finish within "
                                         f"{spec.setup_timeout:.0f}s: {' '.join(step)}\n{self._tail(spec)}")
                    self.stop_event.wait(0.1)
            finally:
                stop(proc, grace=5)
            if proc.returncode != 0:
                raise StackError(f"setup command for '{spec.name}' failed with exit code {proc.returncode}: "
                                 f"{' '.join(step)}\n{self._tail(spec)}")

    def _spawn(self, slot: Slot) -> None:
        spec = slot.spec
        try:
            slot.proc = spawn(spec.argv, env=spec.env, log_path=spec.log_path, cwd=spec.cwd)
        except OSError as exc:
            slot.status = ProcessStatus.FAILED
            raise StackError(f"'{spec.name}' cannot start: {exc.strerror}: {spec.argv[0]} — fix `command:` of "
                             f"'{spec.name}' in {self.plan.stack_file}") from None
        slot.status, slot.started_at, slot.exit_code = ProcessStatus.STARTING, time.time(), None
        self.save()

    def _wait_healthy(self, slot: Slot) -> None:
        """Poll health in short slices so a stop request is honoured within a second."""
        spec, proc = slot.spec, slot.running
        target = spec.health_url or f"tcp://{spec.host}:{spec.port}"
        deadline = time.monotonic() + spec.ready_timeout
        last = "no answer yet"
        while True:
            self._check_stop()
            if proc.poll() is not None:
                slot.status, slot.exit_code = ProcessStatus.FAILED, proc.returncode
                raise StackError(f"'{spec.name}' exited with code {proc.returncode} before {target} answered"
                                 f"\n{self._tail(spec)}")
            if time.monotonic() > deadline:
                slot.status = ProcessStatus.FAILED
                raise StackError(f"'{spec.name}' did not become healthy within {spec.ready_timeout:g}s at "
                                 f"{target} ({last})\n{self._tail(spec)}")
            if spec.health_url is None:
                if accepts_connections(spec.host, spec.port):
                    break
                time.sleep(0.1)
                continue
            try:
                wait_http(spec.health_url, timeout=min(1.0, max(0.1, deadline - time.monotonic())), proc=proc)
                break
            except ProcessFailed as exc:
                last = str(exc).splitlines()[0].rsplit("(", 1)[-1].rstrip(")")
        slot.status = ProcessStatus.HEALTHY
        self.save()

    def _tail(self, spec: ResolvedProcess) -> str:
        tail = log_tail(spec.log_path, TAIL_LINES)
        return f"--- last lines of {spec.log_path} ---\n{tail or '(empty)'}"

    # -- supervise --------------------------------------------------------
    def supervise(self, poll: float = 0.5) -> None:
        """Watch the processes until a stop is requested, restarting those with `restart: on-failure`."""
        while not self.stop_event.is_set():
            for slot in self.slots:
                self._check_slot(slot)
            self.stop_event.wait(poll)

    def _check_slot(self, slot: Slot) -> None:
        spec = slot.spec
        exited = slot.proc is not None and slot.proc.poll() is not None
        if slot.status in (ProcessStatus.HEALTHY, ProcessStatus.STARTING) and exited:
            slot.exit_code = code = slot.running.returncode
            if spec.restart == "on-failure" and code != 0:
                if time.time() - (slot.started_at or time.time()) > STABLE_AFTER_S:
                    slot.restarts = 0
                self._schedule_restart(slot, f"exited with code {code}")
            else:
                slot.status, slot.message = ProcessStatus.EXITED, f"exited with code {code}"
            self._log(f"'{spec.name}' {slot.message}\n{self._tail(spec)}")
            self.save()
        if slot.status == ProcessStatus.RESTARTING and time.monotonic() >= slot.next_restart_at:
            slot.restarts += 1
            self._log(f"restarting '{spec.name}' (restart {slot.restarts}/{spec.max_restarts})")
            try:
                self._spawn(slot)
                self._wait_healthy(slot)
                slot.message = f"restarted {slot.restarts} time(s)"
                self._log(f"'{spec.name}' is healthy again (pid {slot.running.pid})")
            except StopRequested:
                return
            except StackError as exc:
                if slot.proc is not None:
                    slot.exit_code = stop(slot.proc, grace=5)
                self._schedule_restart(slot, str(exc).splitlines()[0])
                self._log(f"'{spec.name}' {slot.message}\n{self._tail(spec)}")
            self.save()

    def _schedule_restart(self, slot: Slot, reason: str) -> None:
        """Bounded retries with exponential backoff; past the budget the process stays down and says why."""
        spec = slot.spec
        if slot.restarts < spec.max_restarts:
            delay = min(spec.restart_backoff * 2 ** slot.restarts, 30.0)
            slot.status, slot.next_restart_at = ProcessStatus.RESTARTING, time.monotonic() + delay
            slot.message = f"{reason}; restart {slot.restarts + 1}/{spec.max_restarts} in {delay:.1f}s"
        else:
            slot.status = ProcessStatus.FAILED
            slot.message = f"{reason}; gave up after {slot.restarts} restart(s)"

    # -- stop -------------------------------------------------------------
    def stop_all(self) -> None:
        """Stop every started process, last started first."""
        self.status = StackStatus.STOPPING
        for slot in reversed(self.slots):
            if slot.proc is not None and slot.proc.poll() is None:
                self._log(f"stopping '{slot.spec.name}' (pid {slot.proc.pid})")
                slot.exit_code = stop(slot.proc)
            if slot.status not in (ProcessStatus.FAILED, ProcessStatus.PENDING):
                slot.status = ProcessStatus.STOPPED
        self.status = StackStatus.FAILED if self.error else StackStatus.STOPPED
        with contextlib.suppress(OSError):
            self.save()


# ---------------------------------------------------------------- foreground / detached / down

def run_foreground(plan: StackPlan, *, on_ready: Callable[[dict[str, Any]], None] | None = None,
                   log: Callable[[str], None] | None = None) -> None:
    """The supervisor process: pid file, signal handling, start, supervise until SIGTERM/SIGINT, stop all."""
    run_dir = plan.var_dir / "run"
    other = running_supervisor(run_dir)
    if other:
        raise StackError(f"a stack is already running (supervisor pid {other}) — run `strangler down` first")
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / PID_FILE).write_text(str(os.getpid()))
    stop_event = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop_event.set())
                for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)}
    sup = Supervisor(plan, log=log, stop_event=stop_event)
    try:
        try:
            sup.start()
        except StopRequested:
            sup.error = "interrupted while starting"
            raise
        except StackError as exc:
            sup.error = str(exc)
            raise
        if on_ready:
            on_ready(sup.state())
        sup.supervise()
    finally:
        sup.stop_all()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        with contextlib.suppress(OSError, ValueError):
            if int((run_dir / PID_FILE).read_text()) == os.getpid():
                (run_dir / PID_FILE).unlink()


def start_detached(plan: StackPlan, cli_args: Sequence[str], *,
                   on_healthy: Callable[[str, dict[str, Any]], None] | None = None) -> dict[str, Any]:
    """Run `strangler up <cli_args>` in the background and wait until it reports healthy or failed;
    `on_healthy(name, process state)` is called once per process as it becomes healthy (progress)."""
    run_dir, log_path = plan.var_dir / "run", plan.var_dir / "logs" / "supervisor.log"
    other = running_supervisor(run_dir)
    if other:
        raise StackError(f"a stack is already running (supervisor pid {other}) — run `strangler down` first")
    preflight(plan)
    rotate_log(log_path)
    argv = [sys.executable, "-m", "strangler", "up", *cli_args]
    env = {"STRANGLER_VAR_DIR": str(plan.var_dir), **({"STRANGLER_PROJECT": str(plan.project)} if plan.project else {})}
    proc = spawn(argv, env=env, log_path=log_path, cwd=Path.cwd())
    budget = 30.0 + sum(p.ready_timeout + p.setup_timeout * len(p.setup) for p in plan.processes)
    deadline = time.monotonic() + budget
    told: set[str] = set()
    while time.monotonic() < deadline:
        state = read_state(run_dir)
        mine = state if state is not None and state.get("supervisor_pid") == proc.pid else None
        if mine is not None and on_healthy is not None:
            for name, entry in mine["processes"].items():
                if entry.get("status") == ProcessStatus.HEALTHY and name not in told:
                    told.add(name)
                    on_healthy(name, entry)
        if mine is not None and mine["status"] == StackStatus.RUNNING:
            return mine
        if proc.poll() is not None:
            error = mine.get("error") if mine is not None else None
            raise StackError(error or f"the supervisor exited with code {proc.returncode}\n"
                             f"--- last lines of {log_path} ---\n{log_tail(log_path, TAIL_LINES)}")
        time.sleep(0.2)
    stop(proc)
    raise StackError(f"the stack did not report healthy within {budget:.0f}s; stopped it. "
                     f"See {log_path}")
