"""The façade's end of the shadow worker: spawns `python -m proxy.shadow.worker`, feeds it, reads its events.

Cheap on the façade's loop: `send` appends to a batch, written as ONE pickle + pipe write at the next loop
iteration and at most every `window_s` (the intake window): under load the worker wakes once for several
requests' messages, and the façade writes once for them. Bounded: a batch of `max_batch` goes at once, and
when the worker lags (bytes not yet taken by the pipe above `max_buffer`) or is down, `send` returns False
and the caller drops and counts — never a queue without bound. Owned by the façade: started in `running`,
stopped in `done`, restarted with a back-off when it dies (its pid and restarts are metrics), and it exits
by itself when the façade goes away (its stdin closes), so `mitmdump -s proxy/facade.py` alone is a complete
deployment.
WorkerPool runs `strangler_shadow_workers` of them behind the same interface (one per CPU core by default).
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sys
import zlib
from collections import Counter
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import Any

from proxy.shadow.engine import SAFE_METHODS
from proxy.shadow.worker import frame, read_frame

log = logging.getLogger("strangler.facade")
ROOT = str(Path(__file__).resolve().parents[2])
MAX_BUFFER = 4 * 1024 * 1024
STOP_S = 12.0  # the worker drains in-flight exchanges for up to 10 s on stdin EOF


class WorkerLink:
    """One child process fed batches of pickled messages on its stdin, its event batches read from its stdout.
    MODULE is the child (`python -m MODULE --db DB`); subclasses change it and the batching defaults."""

    MODULE = "proxy.shadow.worker"
    NAME = "shadow worker"
    WINDOW_S = 0.0   # batches are written at most this often (see _schedule)
    MAX_BATCH = 256  # ... or at once when they hold this many messages
    HOLD_FIRST = False  # True: after a quiet spell too, the first message waits the window (nothing is urgent)

    def __init__(self, db: Path | str, on_events: Callable[[list[Any]], None], on_start: Callable[[], list[Any]],
                 on_lost: Callable[[], None], *, max_buffer: int = MAX_BUFFER, window_s: float | None = None,
                 max_batch: int | None = None, args: Sequence[str] = ()):
        self.db = db
        self.args = tuple(args)         # more of the child's command line, after --db DB
        self.on_events = on_events      # a batch of event tuples from the worker
        self.on_start = on_start        # messages every (re)started worker needs first (the table)
        self.on_lost = on_lost          # the worker died: its in-flight jobs are gone
        self.max_buffer = max_buffer
        self.window_s = self.WINDOW_S if window_s is None else window_s
        self.max_batch = self.MAX_BATCH if max_batch is None else max_batch
        self.proc: asyncio.subprocess.Process | None = None
        self.restarts = 0
        self._batch: list = []
        self._flushing: asyncio.Handle | None = None  # the write to come, and when (loop time)
        self._due = 0.0
        self._written = float("-inf")  # loop time of the last batch written
        self._stopping = False
        self._watcher: asyncio.Task | None = None

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None and self.up else None

    @property
    def up(self) -> bool:
        return self._stdin() is not None

    def _stdin(self) -> asyncio.StreamWriter | None:
        """The running worker's stdin; None when it is down."""
        proc = self.proc
        return proc.stdin if proc is not None and proc.returncode is None else None

    async def start(self) -> None:
        self._stopping = False
        await self._spawn()
        self._watcher = asyncio.get_running_loop().create_task(self._watch(), name="strangler shadow worker")

    def send(self, message: tuple, *, force: bool = False, at_once: bool = False) -> bool:
        """Queue one message for the next write (`at_once`: at the next loop iteration, whatever the window);
        False (not queued) when the worker is down or lagging."""
        stdin = self._stdin()
        if stdin is None:
            return False
        if not force and stdin.transport.get_write_buffer_size() > self.max_buffer:
            return False
        self._batch.append(message)
        self._schedule(at_once)
        return True

    def _schedule(self, at_once: bool = False) -> None:
        """One pickle + pipe write for the messages that came meanwhile: at the next loop iteration when the last
        write is `window_s` old (after a quiet spell: at once), else when it will be; with HOLD_FIRST, `window_s`
        after the batch's first message. Why a window: every write wakes the worker on the client's cores;
        fewer, larger batches cost the client's p50 less (load/bench_shadow.py). A full batch, or a message
        sent `at_once`, goes at the next iteration."""
        if len(self._batch) >= self.max_batch:
            self._flush()
            return
        loop = asyncio.get_running_loop()
        now = loop.time()
        due = now if at_once else (now if self.HOLD_FIRST else self._written) + self.window_s
        if self._flushing is not None:
            if self._due <= due:
                return  # an earlier write is coming: it takes this message too
            self._flushing.cancel()
        self._due = due
        self._flushing = loop.call_soon(self._flush) if now >= due else loop.call_at(due, self._flush)

    def _flush(self) -> None:
        if self._flushing is not None:
            self._flushing.cancel()  # when a full batch is written before its timer
            self._flushing = None
        batch, self._batch = self._batch, []
        stdin = self._stdin() if batch else None
        if stdin is not None:
            self._written = asyncio.get_running_loop().time()
            with contextlib.suppress(ConnectionError, RuntimeError):  # died meanwhile: the watcher restarts it
                stdin.write(frame(batch))

    async def stop(self) -> None:
        """Close the worker's stdin (it finishes in-flight copies, flushes the store and its last events, exits);
        the watcher reads those events to the end. Killed if it does not exit in STOP_S."""
        self._stopping = True
        proc = self.proc
        if proc is not None and proc.returncode is None:
            self._flush_to(proc)
            if proc.stdin is not None:
                with contextlib.suppress(Exception):
                    proc.stdin.close()
            try:
                await asyncio.wait_for(proc.wait(), STOP_S)
            except TimeoutError:
                log.warning("%s %d did not stop in %.0fs; killing it", self.NAME, proc.pid, STOP_S)
                proc.kill()
                await proc.wait()
        if self._watcher is not None:
            with contextlib.suppress(TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(self._watcher, 2.0)
            self._watcher = None
        self.proc = None

    def _flush_to(self, proc: asyncio.subprocess.Process) -> None:
        batch, self._batch = self._batch, []
        if batch and proc.stdin is not None:
            with contextlib.suppress(Exception):
                proc.stdin.write(frame(batch))

    async def _spawn(self) -> None:
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (ROOT, os.environ.get("PYTHONPATH")) if p)}
        self.proc = proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", self.MODULE, "--db", str(self.db), *self.args, env=env, cwd=ROOT,
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=None, limit=64 * 1024 * 1024,
            start_new_session=True)  # signals to the façade's group (Ctrl-C, stop) must not kill it first: it
        # exits when its stdin closes, after finishing in-flight copies
        for message in self.on_start():
            self.send(message, force=True)
        log.info("%s started (pid %d)", self.NAME, proc.pid)

    async def _watch(self) -> None:
        """Read the worker's events until it exits; then restart it (back-off 0.5 s doubling to 10 s)."""
        backoff = 0.5
        while not self._stopping:
            proc = self.proc
            assert proc is not None and proc.stdout is not None  # _spawn ran first, with pipes
            while (batch := await read_frame(proc.stdout)) is not None:
                try:
                    self.on_events(batch)
                except Exception:
                    log.exception("applying shadow worker events failed")
                backoff = 0.5
            code = await proc.wait()
            if self._stopping:
                return
            self._batch = []
            self.on_lost()
            log.error("%s (pid %d) exited with code %s; restarting in %.1fs", self.NAME, proc.pid, code, backoff)
            await asyncio.sleep(backoff)
            if self._stopping:
                return
            backoff = min(backoff * 2, 10.0)
            self.restarts += 1
            await self._spawn()


class WorkerPool:
    """`size` shadow workers behind the façade's one bounded hand-over: the same interface as WorkerLink.

    Each job goes to one worker, so each comparison is recorded once (every worker writes its own results to
    the one parity store). A route's jobs rotate over the workers, so each worker gets its share of every
    route's noise samples (the first NOISE_WARMUP of a route included, while size <= 5) and judges noise on it.
    The client's answer follows its job to the same worker. A worker that lags passes its job to the next
    one; when all lag the façade drops and counts it, as with one worker. Write copies are the exception:
    each dry-run target's writes go to one worker only (by the target's name), the one whose memory holds
    that target's verdict, and are dropped rather than passed on. One that dies is restarted alone.
    The façade's in-flight counts are per feature: when a worker dies they restart from zero (its on_lost),
    so the jobs the other workers still finish are not counted down a second time (`_owed`)."""

    MAX_JOBS = 65_536  # job -> worker entries kept for answers still to come (a flow always ends, but bounded)

    def __init__(self, db: Path | str, on_events: Callable[[list[Any]], None], on_start: Callable[[], list[Any]],
                 on_lost: Callable[[], None], *, size: int = 1, max_buffer: int = MAX_BUFFER, intake_ms: int = 0):
        if size < 1:
            raise ValueError(f"a shadow worker pool of {size} workers. Fix: use at least 1")
        self.on_events, self.on_lost = on_events, on_lost
        self.members = [WorkerLink(db, partial(self._events, i), on_start, partial(self._lost, i),
                                   max_buffer=max_buffer, window_s=intake_ms / 1000) for i in range(size)]
        self._owner: dict[int, int] = {}                       # job id -> worker index, until its answer
        self._turn: dict[tuple[str, str], int] = {}            # (feature, route) -> next worker
        self._busy = [Counter[str]() for _ in range(size)]     # jobs in flight per worker and feature
        self._owed = [Counter[str]() for _ in range(size)]     # "done" not to pass on (see the class doc)

    @property
    def up(self) -> bool:
        return any(m.up for m in self.members)

    @property
    def pid(self) -> int | None:
        """The first worker's (strangler_shadow_worker_pid: one process to watch; `pids` lists them all)."""
        return self.members[0].pid

    @property
    def pids(self) -> list[int]:
        return [pid for m in self.members if (pid := m.pid) is not None]

    @property
    def restarts(self) -> int:
        return sum(m.restarts for m in self.members)

    async def start(self) -> None:
        for member in self.members:
            await member.start()

    async def stop(self) -> None:
        await asyncio.gather(*(m.stop() for m in self.members))

    def send(self, message: tuple, *, force: bool = False) -> bool:
        kind = message[0]
        if kind == "begin":
            job = message[2]  # engine.Job as a tuple: feature, route, method, …, copy_to at 6
            n = len(self.members)
            if job[2] not in SAFE_METHODS:
                # A write copy goes to the one worker that owns its target's dry-run verdict: a worker marks a
                # target unsafe in its own memory at the first unacknowledged answer, and another worker
                # holding an older "proven" would still send writes that commit. Never passed on.
                # At once, not in the intake window: the copies of writes start as the client sent them, not
                # together (a target that serialises its writes would make the later ones wait).
                i = zlib.crc32(job[6].encode()) % n
                if not self.members[i].send(message, force=force, at_once=True):
                    return False
            else:
                key = (job[0], job[1])
                turn = self._turn.get(key, 0)
                self._turn[key] = turn + 1
                i = turn % n  # the route's next worker, else the next one with room
                if not self.members[i].send(message, force=force):
                    found = next((j for j in ((turn + k) % n for k in range(1, n))
                                  if self.members[j].send(message, force=force)), None)
                    if found is None:
                        return False
                    i = found
            self._busy[i][job[0]] += 1
            if len(self._owner) >= self.MAX_JOBS:
                del self._owner[next(iter(self._owner))]
            self._owner[message[1]] = i
            return True
        if kind == "served":
            owner = self._owner.pop(message[1], None)
            return owner is not None and self.members[owner].send(message, force=force)
        sent = [m.send(message, force=force) for m in self.members]  # the table: every worker
        return all(sent)

    def _events(self, i: int, batch: list[Any]) -> None:
        out = []
        for event in batch:
            if event[0] == "done":
                feature, n = event[1], event[2]
                self._busy[i][feature] -= n
                owed = min(n, self._owed[i][feature])
                if owed:
                    self._owed[i][feature] -= owed
                    n -= owed
                    if not n:
                        continue
                    event = ("done", feature, n)
            out.append(event)
        if out:
            self.on_events(out)

    def _lost(self, i: int) -> None:
        self._busy[i].clear()
        self._owed[i].clear()
        self._owner = {job: w for job, w in self._owner.items() if w != i}
        for j, busy in enumerate(self._busy):
            if j != i:  # the façade forgets these too (on_lost): their "done" must not count down again
                self._owed[j] = Counter(busy)
        self.on_lost()


MAX_WORKERS = 64  # strangler_shadow_workers' bound: more processes than this only contend for the cores
INTAKE_MS = 20     # strangler_shadow_intake_ms: how long a copy may wait to be handed to its worker (the window)
MAX_INTAKE_MS = 100


def default_workers() -> int:
    """One shadow worker per CPU core (the façade's own process keeps running beside them)."""
    return max(1, os.cpu_count() or 1)
