"""The shadow worker: a process of its own that does the façade's shadow copies and comparisons.

Why a process: mitmdump is one Python process on one core; a copy (httpx), JSON parsing, a comparison and a
store write per shadowed request on its event loop cost the client as much as the proxying itself. The
façade only decides and hands over messages (proxy/shadow/link.py); this process does the rest with the
shared Engine (proxy/shadow/engine.py) and sends back small event tuples in batches.

Channel (stdin -> us, us -> stdout): frames of a 4-byte big-endian length + a pickled list of messages. The
pipe is private between the façade and the child it spawned, so pickle is safe here. Messages in:

    ("table", RouteTable)                the façade's live table (sent at start and on every swap)
    ("begin", job_id, tuple(Job))        start the copy now (both sides see the same moment)
    ("served", job_id, payload | None)   the client's answer: (status, header fields, raw body, latency ms)

The worker exits when stdin closes (the façade stopped or died): it finishes what is in flight (bounded),
flushes the store and its last events. Run by the façade as `python -m proxy.shadow.worker --db PATH`.
"""
from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import logging
import os
import pickle
import struct
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from strangler_app.protocol import KEY_ENV

from proxy.parity import Response
from proxy.parity.store import open_store
from proxy.shadow.clients import decoded
from proxy.shadow.engine import Engine, Job, Served
from proxy.table import RouteTable

log = logging.getLogger("strangler.shadow")
HEADER = struct.Struct(">I")
MAX_FRAME = 64 * 1024 * 1024
FLUSH_S = 0.01     # how long events may wait to be batched back to the façade
DRAIN_S = 10.0     # how long a stopping worker lets in-flight exchanges finish
PROFILE_ENV = "STRANGLER_SHADOW_PROFILE"  # a directory: each worker writes its cProfile there when it stops
NICE = 10          # lower CPU priority than the façade: on a busy machine the client path is served first
GC_YOUNG = 20_000  # allocations between young-generation collections (CPython's default: 2,000)


def frame(messages: list) -> bytes:
    data = pickle.dumps(messages, protocol=pickle.HIGHEST_PROTOCOL)
    return HEADER.pack(len(data)) + data


async def read_frame(reader: asyncio.StreamReader) -> list | None:
    """The next batch of messages, or None at end of stream."""
    try:
        (size,) = HEADER.unpack(await reader.readexactly(HEADER.size))
        if size > MAX_FRAME:
            raise ValueError(f"frame of {size} bytes is larger than {MAX_FRAME}")
        return pickle.loads(await reader.readexactly(size))
    except asyncio.IncompleteReadError:
        return None


class FrameReader(asyncio.Protocol):
    """The worker's stdin read as frames and handed to `handle` message by message as bytes arrive: no
    StreamReader (its buffer, two awaited reads and a memmove of the rest per frame). `closed` resolves when
    the stream ends (or breaks the framing: then the worker stops as at end of stream, logging why). Read at
    once: the façade batches what it hands over (proxy/shadow/link.py, the intake window)."""

    def __init__(self, handle: Callable[[tuple], None]):
        self.handle = handle
        self.buffer = bytearray()
        self.closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def data_received(self, data: bytes) -> None:
        if self.closed.done():  # the framing broke: nothing after it is read
            return
        buffer = self.buffer
        buffer += data
        pos, end = 0, len(buffer)
        batches, broken = [], None
        with memoryview(buffer) as view:
            while end - pos >= HEADER.size:
                (size,) = HEADER.unpack_from(view, pos)
                if size > MAX_FRAME:
                    broken = ValueError(f"frame of {size} bytes is larger than {MAX_FRAME}")
                    break
                if end - pos - HEADER.size < size:
                    break
                batches.append(pickle.loads(view[pos + HEADER.size:pos + HEADER.size + size]))
                pos += HEADER.size + size
        del buffer[:pos]
        for batch in batches:
            for message in batch:
                self.handle(message)
        if broken is not None:
            buffer.clear()
            self._end(broken)

    def eof_received(self) -> bool:
        self._end(None)
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self._end(exc)

    def _end(self, exc: Exception | None) -> None:
        if exc is not None:
            log.error("shadow worker input ended: %s", exc)
        if not self.closed.done():
            self.closed.set_result(None)


def served_of(payload: tuple | None) -> Served | None:
    """The client's answer from the façade's cheap form: mitmproxy header fields (bytes) and the body as sent
    on the wire (decoded here, not on the façade's loop)."""
    if payload is None:
        return None
    status, fields, raw, latency_ms = payload
    headers = tuple((k.decode("utf-8", "surrogateescape").lower(), v.decode("utf-8", "surrogateescape"))
                    for k, v in fields)  # what Response.of would make of them, without a second pass
    return Served(Response(int(status), headers, decoded(headers, raw or b"")), latency_ms)


class WorkerCore:
    """Turns messages into engine runs; the same object runs in the worker process and in unit tests."""

    def __init__(self, engine: Engine):
        self.engine = engine
        self.table: RouteTable | None = None
        self.pending: dict[int, asyncio.Future[Any]] = {}
        self.tasks: set[asyncio.Task] = set()

    def handle(self, message: tuple) -> None:
        kind = message[0]
        if kind == "table":
            self.table = message[1]
        elif kind == "begin":
            job_id, job = message[1], Job(*message[2])
            if self.table is None:
                self.engine.emit(("drop", job.feature, "no_table"))
                self.engine.emit(("done", job.feature))
                return
            served = asyncio.get_running_loop().create_future()
            self.pending[job_id] = served
            task = asyncio.get_running_loop().create_task(self._run(job_id, job, self.table, served))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)
        elif kind == "served":
            waiting = self.pending.pop(message[1], None)
            if waiting is not None and not waiting.done():
                waiting.set_result(served_of(message[2]))

    async def _run(self, job_id: int, job: Job, table: RouteTable, served: asyncio.Future) -> None:
        # the client's answer is awaited at most its timeout + 5 s: then None (a timer, not wait_for's Timeout)
        expiry = asyncio.get_running_loop().call_later(job.served_timeout_s + 5.0, _expire, served)
        try:
            await self.engine.run(job, table, served)
        finally:
            expiry.cancel()
            self.pending.pop(job_id, None)
            self.engine.emit(("done", job.feature))

    async def drain(self, timeout: float) -> None:
        if self.tasks:
            await asyncio.wait(list(self.tasks), timeout=timeout)
        for task in list(self.tasks):
            task.cancel()


def _expire(served: asyncio.Future) -> None:
    if not served.done():
        served.set_result(None)


def batch_events(events: list[tuple]) -> list[tuple]:
    """What crosses the pipe back: verdicts one by one (auto-rollback judges each), every other event
    aggregated with its count appended — ("done", feature, 12) — so the façade applies a batch in O(kinds)."""
    counts: dict[tuple, int] = {}
    out = []
    for event in events:
        if event[0] == "verdict":
            out.append(event)
        else:
            counts[event] = counts.get(event, 0) + 1
    out.extend((*event, n) for event, n in counts.items())
    return out


class _Outbox:
    """Events batched back to the façade: the first event of a batch schedules one write FLUSH_S later (one
    frame, not one write per event; no timer at all while idle)."""

    def __init__(self, writer: asyncio.StreamWriter):
        self.writer = writer
        self.events: list[tuple[Any, ...]] = []

    def emit(self, event: tuple[Any, ...]) -> None:
        if not self.events:
            asyncio.get_running_loop().call_later(FLUSH_S, self.flush)
        self.events.append(event)

    def flush(self) -> None:
        if self.events and not self.writer.is_closing():
            events, self.events = self.events, []
            # the façade always reads; a bounded number of events in flight
            self.writer.write(frame(batch_events(events)))


async def serve(db: Path) -> None:
    loop = asyncio.get_running_loop()
    transport, protocol = await loop.connect_write_pipe(asyncio.streams.FlowControlMixin, sys.stdout.buffer)
    writer = asyncio.StreamWriter(transport, protocol, None, loop)
    outbox = _Outbox(writer)
    store = open_store(db)
    engine = Engine(store, os.environ.get(KEY_ENV, ""), outbox.emit)
    core = WorkerCore(engine)
    _tune_gc()
    try:
        _, inbox = await loop.connect_read_pipe(lambda: FrameReader(core.handle), sys.stdin.buffer)
        await inbox.closed
        await core.drain(DRAIN_S)
    finally:
        await engine.aclose()
        await asyncio.to_thread(store.close)
        try:
            outbox.flush()
            await writer.drain()
        except (ConnectionError, BrokenPipeError):
            pass  # the façade is gone


def _tune_gc() -> None:
    """Every copy allocates a few hundred short-lived containers (parsed bodies, tasks, results waiting for the
    store's flush); with CPython's default threshold the cyclic collector runs every few copies. What exists
    once the worker is up lives as long as the process: frozen out of every scan; the young generation is
    collected a tenth as often (reference counting frees almost everything anyway)."""
    gc.freeze()
    gc.set_threshold(GC_YOUNG, *gc.get_threshold()[1:])


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m proxy.shadow.worker", description=__doc__.split("\n")[0])
    p.add_argument("--db", required=True, help="parity store the comparisons are recorded in (file or PostgreSQL URL)")
    args = p.parse_args(argv)
    logging.basicConfig(stream=sys.stderr, level=logging.WARNING, format="shadow-worker %(levelname)s %(message)s")
    if sys.stdin.isatty():
        p.error("the shadow worker is started by the façade (mitmdump -s proxy/facade.py), not by hand")
    with contextlib.suppress(OSError):  # best effort: the shadow never slows the client; if it lags, the façade drops
        os.nice(NICE)
    try:
        import uvloop  # ships with uvicorn[standard]; its I/O loop costs less CPU per copy
        loop_factory = uvloop.new_event_loop
    except ImportError:
        loop_factory = None
    profile_dir = os.environ.get(PROFILE_ENV)
    if not profile_dir:
        asyncio.run(serve(args.db), loop_factory=loop_factory)
        return
    import cProfile  # load/bench_shadow.py --profile: where a copy's CPU goes, in the real worker under load

    with cProfile.Profile(time.process_time) as profile:  # CPU, not wall-clock: the machine may be shared
        asyncio.run(serve(args.db), loop_factory=loop_factory)
    profile.dump_stats(Path(profile_dir) / f"shadow-worker-{os.getpid()}.prof")


if __name__ == "__main__":
    main()
