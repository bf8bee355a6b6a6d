"""The shadow worker's pieces driven directly: the pipe's framing, the served answer's cheap form, the worker
core's message handling and the shared engine in its nginx-mirror mode (reference asked from legacy)."""
from __future__ import annotations

import asyncio
import gzip
import json
import os
from pathlib import Path

import httpx
import pytest
from shadow_harness import LEGACY_PORT, SVC_PORT, Upstreams, table_text
from strangler_app import protocol as signing

from proxy.parity import ParityStore
from proxy.shadow.engine import Engine, Job
from proxy.shadow.worker import MAX_FRAME, FrameReader, WorkerCore, frame, read_frame, served_of
from proxy.table import load_table
from tests.loop_wait import until

KEY = "unit-worker-key-0123456789abcdef"


def test_frames_round_trip_in_batches_and_end_cleanly() -> None:
    async def main() -> list:
        reader = asyncio.StreamReader()
        reader.feed_data(frame([("a", 1), ("b", b"\x00" * 3)]) + frame([("c",)]))
        reader.feed_eof()
        return [await read_frame(reader), await read_frame(reader), await read_frame(reader)]

    assert asyncio.run(main()) == [[("a", 1), ("b", b"\x00\x00\x00")], [("c",)], None]


def test_frame_reader_hands_over_messages_in_order_however_the_bytes_arrive() -> None:
    async def main() -> tuple[list, list, bool]:
        got: list = []
        stream = frame([("a", 1), ("b", b"\x00" * 5000)]) + frame([("c",)]) + frame([("d", "é")])
        reader = FrameReader(got.append)
        for i in range(0, len(stream), 7):  # split everywhere, headers included
            reader.data_received(stream[i:i + 7])
        whole: list = []
        at_once = FrameReader(whole.append)
        at_once.data_received(stream)
        ended = at_once.closed.done()
        at_once.eof_received()
        return got, whole, not ended and at_once.closed.done()

    got, whole, ends_at_eof = asyncio.run(main())
    assert got == whole == [("a", 1), ("b", b"\x00" * 5000), ("c",), ("d", "é")]
    assert ends_at_eof


def test_frame_reader_stops_at_a_frame_larger_than_the_bound() -> None:
    async def main() -> tuple[list, bool]:
        got: list = []
        reader = FrameReader(got.append)
        reader.data_received(frame([("a",)]) + (MAX_FRAME + 1).to_bytes(4, "big") + b"x")
        return got, reader.closed.done()

    assert asyncio.run(main()) == ([("a",)], True)


def test_served_answer_is_decoded_in_the_worker_not_the_facade() -> None:
    body = json.dumps({"id": 7}).encode()
    fields = ((b"Content-Type", b"application/json"), (b"Content-Encoding", b"gzip"))
    served = served_of((201, fields, gzip.compress(body), 3.5))
    assert (served.response.status, served.response.body, served.latency_ms) == (201, body, 3.5)
    assert served.response.header("content-type") == "application/json"
    assert served_of(None) is None
    broken = served_of((200, ((b"content-encoding", b"gzip"),), b"not gzip", 1.0))
    assert broken.response.body == b"not gzip"  # compared as sent, never an exception


def _job(method: str = "GET", body: bytes = b"", served_by: str | None = None, noise: bool = False) -> Job:
    headers = ((b"Host", b"127.0.0.1:5000"), (b"Accept", b"application/json"), (signing.HEADER.encode(), b"forged"))
    return Job("items", "/api/items/{id}", method, "/api/items/7?x=1", headers, body, "svc", served_by, noise, 2.0)


@pytest.fixture
def table(tmp_path: Path):
    path = tmp_path / "routes.yaml"
    path.write_text(table_text("shadow"))
    return load_table(path)


def _engine(tmp_path: Path, upstreams: Upstreams, events: list) -> tuple[Engine, ParityStore]:
    store = ParityStore(tmp_path / "parity.db", background=False)
    return Engine(store, KEY, events.append, transport=httpx.MockTransport(upstreams)), store


def test_mirror_mode_asks_legacy_for_the_reference_and_compares(tmp_path: Path, table) -> None:
    upstreams, events = Upstreams(KEY), []
    upstreams.bodies[SVC_PORT] = {"id": 7, "price": "2.00"}

    async def main() -> None:
        engine, store = _engine(tmp_path, upstreams, events)
        await engine.run(_job(noise=True), table, None)
        await engine.aclose()
        store.flush()
        assert [s.field for s in store.field_stats("items")] == ["$.price"]
        store.close()

    asyncio.run(main())
    assert sorted(r.url.port for r in upstreams.seen) == [LEGACY_PORT, LEGACY_PORT, SVC_PORT]
    (copy,) = [r for r in upstreams.seen if r.url.port == SVC_PORT]
    assert copy.headers["host"] == "127.0.0.1:8101" and copy.url.raw_path == b"/api/items/7?x=1"
    assert all(signing.HEADER not in r.headers for r in upstreams.seen)  # a client's header never passes
    assert ("compared", "items", "diff") in events
    assert events[-1][:6] == ("verdict", "items", False, events[-1][3], True, True)
    assert events[-1][6:] == ("body", "", 200, 200)  # cause, client (none in a mirror job), legacy/target status


def test_mirror_mode_write_is_only_dry_run_and_counted(tmp_path: Path, table) -> None:
    upstreams, events = Upstreams(KEY), []

    async def main() -> None:
        engine, store = _engine(tmp_path, upstreams, events)
        await engine.run(_job("PUT", b'{"p": 1}', noise=True), table, None)
        await engine.aclose()
        store.close()

    asyncio.run(main())
    (copy,) = upstreams.seen
    assert copy.url.port == SVC_PORT and signing.verify(KEY, "PUT", "/api/items/7?x=1", b'{"p": 1}',
                                                        copy.headers[signing.HEADER])
    assert events == [("sent", "items", "copy", "ok"), ("dry_run", "items", "200")]


def test_worker_core_waits_for_the_served_answer_and_reports_done_last(tmp_path: Path, table) -> None:
    upstreams, events = Upstreams(KEY), []

    async def main() -> None:
        engine, store = _engine(tmp_path, upstreams, events)
        core = WorkerCore(engine)
        core.handle(("begin", 1, tuple(_job(served_by="legacy"))))  # no table yet: dropped, never queued
        core.handle(("table", table))
        core.handle(("begin", 2, tuple(_job(served_by="legacy"))))
        await asyncio.sleep(0.05)
        assert core.tasks and events[-1][0] == "sent"  # copied at once, waiting for the client's answer
        core.handle(("served", 2, (200, ((b"content-type", b"application/json"),), b'{"id": 7, "price": "1.00"}',
                                   1.0)))
        await core.drain(2)
        await engine.aclose()
        store.close()

    asyncio.run(main())
    assert events[:2] == [("drop", "items", "no_table"), ("done", "items")]
    assert ("compared", "items", "match") in events and events[-1] == ("done", "items")
    assert [r.url.port for r in upstreams.seen] == [SVC_PORT]  # legacy served the client: not asked again


def test_frame_reader_reads_every_frame_as_it_comes() -> None:
    async def main() -> tuple[list, bool]:
        loop = asyncio.get_running_loop()
        got: list = []
        read_fd, write_fd = os.pipe()
        reader = FrameReader(got.append)
        transport, _ = await loop.connect_read_pipe(lambda: reader, os.fdopen(read_fd, "rb", buffering=0))
        try:
            for i in range(3):
                os.write(write_fd, frame([("begin", i)]))
                await until(lambda i=i: len(got) == i + 1)
            return got, transport.is_reading()
        finally:
            os.close(write_fd)
            transport.close()
            await until(reader.closed.done)  # the pipe's file is closed now, not at a later GC (its fd reused)

    assert asyncio.run(main()) == ([("begin", 0), ("begin", 1), ("begin", 2)], True)
