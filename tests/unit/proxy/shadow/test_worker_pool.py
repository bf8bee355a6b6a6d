"""The façade's pool of shadow worker processes (proxy/shadow/link.py WorkerPool), real processes and a real
upstream: every job is compared and recorded once, a route's jobs rotate over the workers, an answer follows
its job, and a worker that dies is restarted alone without the façade's in-flight counts going negative."""
from __future__ import annotations

import asyncio
import os
import signal
from collections import Counter
from functools import partial
from pathlib import Path
from typing import Any

import pytest
import yaml

from proxy.parity import ParityStore
from proxy.shadow.link import WorkerPool
from proxy.table import RouteTable

BODY = b'{"id": 7, "price": "1.00"}'


async def _upstream() -> tuple[asyncio.Server, int]:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while await reader.readuntil(b"\r\n\r\n"):
                writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n%s"
                             % (len(BODY), BODY))
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1]


def _table(port: int) -> RouteTable:
    return RouteTable.model_validate(yaml.safe_load(f"""
upstreams:
  legacy: {{url: "http://127.0.0.1:{port}"}}
  svc: {{url: "http://127.0.0.1:{port}"}}
default: legacy
features:
  items:
    target: svc
    state: shadow
    routes: [{{methods: [GET], path: "/api/items/{{id}}"}}]
"""))


def _job(i: int) -> tuple[Any, ...]:
    return ("items", "/api/items/{id}", "GET", f"/api/items/{i}", ((b"accept", b"*/*"),), b"", "svc", "legacy",
            False, 5.0, "c", None)


class Facade:
    """What the shadow addon does with its link: counts in flight per feature from the workers' events."""

    def __init__(self, db: Path, port: int, size: int, intake_ms: int = 0):
        self.in_flight: Counter[str] = Counter()
        self.compared: Counter[str] = Counter()
        self.lost = 0
        self.table = _table(port)
        self.pool = WorkerPool(db, self.events, lambda: [("table", self.table)], self.on_lost, size=size,
                               intake_ms=intake_ms)

    def events(self, batch: list[Any]) -> None:
        for event in batch:
            if event[0] == "done":
                self.in_flight[event[1]] -= event[2]
            elif event[0] == "compared":
                self.compared[event[2]] += event[3]

    def on_lost(self) -> None:
        self.lost += 1
        self.in_flight.clear()

    def begin(self, i: int) -> None:
        assert self.pool.send(("begin", i, _job(i)))
        self.in_flight["items"] += 1
        assert self.pool.send(("served", i, (200, ((b"content-type", b"application/json"),), BODY, 1.0)), force=True)

    async def settle(self, timeout: float = 60.0) -> None:
        async with asyncio.timeout(timeout):
            while self.in_flight["items"] > 0:
                await asyncio.sleep(0.05)


@pytest.mark.parametrize("intake_ms", [0, 25])
def test_each_job_is_compared_and_recorded_once_over_the_pool(tmp_path: Path, intake_ms: int) -> None:
    """With an intake window too: the façade writes the jobs and answers in fewer, larger batches."""
    async def main() -> tuple[Facade, list[int]]:
        server, port = await _upstream()
        facade = Facade(tmp_path / "parity.db", port, size=2, intake_ms=intake_ms)
        await facade.pool.start()
        try:
            pids = facade.pool.pids
            assert {m.window_s for m in facade.pool.members} == {intake_ms / 1000}
            for i in range(40):
                facade.begin(i)
            await facade.settle()
            turns = Counter(facade.pool._owner.values())  # answers delivered: no job left waiting
            assert not turns
            return facade, pids
        finally:
            await facade.pool.stop()
            server.close()

    facade, pids = asyncio.run(main())
    assert len(set(pids)) == 2
    assert facade.compared == {"match": 40} and facade.in_flight["items"] == 0
    with ParityStore(tmp_path / "parity.db", background=False) as store:
        (route,) = store.route_stats("items")
        assert route.compared == 40  # each comparison recorded by one worker only


def test_a_dead_worker_is_restarted_alone_and_counts_stay_whole(tmp_path: Path) -> None:
    async def main() -> tuple[Facade, int]:
        server, port = await _upstream()
        facade = Facade(tmp_path / "parity.db", port, size=2)
        await facade.pool.start()
        try:
            victim, survivor = facade.pool.pids
            os.kill(victim, signal.SIGKILL)
            async with asyncio.timeout(30):
                while facade.lost == 0 or len(facade.pool.pids) < 2:
                    await asyncio.sleep(0.05)
            assert survivor in facade.pool.pids and victim not in facade.pool.pids
            for i in range(20):
                facade.begin(i)
            await facade.settle()
            return facade, facade.pool.restarts
        finally:
            await facade.pool.stop()
            server.close()

    facade, restarts = asyncio.run(main())
    assert (facade.lost, restarts) == (1, 1)
    assert facade.compared == {"match": 20} and facade.in_flight["items"] == 0


def test_rotation_per_route_and_owed_done_events() -> None:
    pool = WorkerPool("unused.db", lambda batch: seen.extend(batch), list, lambda: None, size=3)
    seen: list[Any] = []
    sent: list[int] = []

    def reaches(worker: int, message: tuple[Any, ...], force: bool = False) -> bool:
        sent.append(worker)
        return True

    for i, member in enumerate(pool.members):  # no processes: record which worker each message reaches
        member.send = partial(reaches, i)  # type: ignore[method-assign]
    for i in range(6):
        assert pool.send(("begin", i, _job(i)))
    assert sent == [0, 1, 2, 0, 1, 2]
    sent.clear()
    assert pool.send(("served", 4, None), force=True) and sent == [1]
    assert not pool.send(("served", 4, None), force=True)  # delivered once
    pool._lost(0)  # worker 0 died: the façade forgot every feature's count; 1 and 2 still owe theirs
    pool._events(1, [("done", "items", 2), ("compared", "items", "match", 2)])
    assert seen == [("compared", "items", "match", 2)]
    pool._events(1, [("done", "items", 1)])
    assert seen[-1] == ("done", "items", 1)


class _Member:
    """Stands in for one worker's pipe: records what the pool hands it; `room` False = lagging."""

    def __init__(self, room: bool = True):
        self.room, self.got, self.at_once = room, [], []

    def send(self, message: tuple, *, force: bool = False, at_once: bool = False) -> bool:
        if self.room:
            self.got.append(message[1])
            self.at_once.append(at_once)
        return self.room


def _write(i: int, target: str) -> tuple[Any, ...]:
    return ("items", "/api/items/{id}", "PUT", f"/api/items/{i}", (), b"{}", target, "legacy", False, 5.0, "c", None)


def test_write_copies_of_a_target_all_go_to_one_worker_and_are_never_passed_on(tmp_path: Path) -> None:
    """The worker that judged a target unsafe is the only one holding that verdict in memory: a second worker
    with an older "proven" would send writes that commit (issue 15), so writes never rotate."""
    pool = WorkerPool(tmp_path / "parity.db", lambda _: None, list, lambda: None, size=3)
    pool.members = [_Member(), _Member(), _Member()]  # type: ignore[list-item]
    for i in range(12):
        assert pool.send(("begin", i, _write(i, "svc")))
    owners = [m for m in pool.members if m.got]  # type: ignore[attr-defined]
    assert len(owners) == 1 and owners[0].got == list(range(12))
    assert all(owners[0].at_once)  # write copies start as the client's writes came, never held in the window
    for i in range(12, 18):  # reads still rotate over every worker, in the window
        assert pool.send(("begin", i, _job(i)))
    assert all(m.got for m in pool.members)  # type: ignore[attr-defined]
    assert not any(m.at_once[-1] for m in pool.members)  # type: ignore[attr-defined]

    owner = owners[0]
    owner.room = False  # the owner lags: its target's write is dropped, not handed to a worker without its verdict
    before = [list(m.got) for m in pool.members]  # type: ignore[attr-defined]
    assert pool.send(("begin", 99, _write(99, "svc"))) is False
    assert [m.got for m in pool.members] == before  # type: ignore[attr-defined]
