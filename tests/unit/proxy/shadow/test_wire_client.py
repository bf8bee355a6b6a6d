"""The shadow copies' HTTP client (proxy/shadow/wire.py through UpstreamClients) against real sockets: kept-alive
connections bounded per upstream, every way an answer can be delimited, and each failure named as the cause
labels expect (ReadTimeout, ConnectError, RemoteProtocolError)."""
from __future__ import annotations

import asyncio
import gzip
from collections.abc import Awaitable, Callable

from proxy.shadow import wire
from proxy.shadow.clients import Outcome, UpstreamClients
from proxy.table import Upstream
from strangler.procs import free_port

Answer = Callable[[bytes], bytes | None]  # request head -> raw answer (None: say nothing)


async def _server(answer: Answer, delay: float = 0.0, first_delay: float = 0.0
                  ) -> tuple[asyncio.Server, int, list[int]]:
    """A raw HTTP/1.1 server answering every request on a connection (`delay` late, a connection's first
    `first_delay` later still); counts connections opened."""
    opened: list[int] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        opened.append(1)
        extra = first_delay
        try:
            while head := await reader.readuntil(b"\r\n\r\n"):
                await asyncio.sleep(delay + extra)
                extra = 0.0
                raw = answer(head)
                if raw is None:
                    await asyncio.sleep(30)
                    return
                writer.write(raw)
                await writer.drain()
                if b"connection: close" in raw.lower():
                    return
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1], opened


def _ok(body: bytes = b'{"ok": true}', extra: bytes = b"") -> Answer:
    return lambda head: b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\n%s\r\n%s" % (len(body), extra, body)


def _run(answer: Answer, requests: list[tuple[str, str]], *, max_connections: int = 64, delay: float = 0.0,
         timeout_s: float = 5.0) -> tuple[list[Outcome], int]:
    async def main() -> tuple[list[Outcome], int]:
        server, port, opened = await _server(answer, delay)
        clients = UpstreamClients(max_connections=max_connections)
        up = Upstream(url=f"http://127.0.0.1:{port}", timeout_s=timeout_s)
        try:
            sends: list[Awaitable[Outcome]] = [clients.send(up, clients.build(up, m, p, [("accept", "*/*")], b""))
                                               for m, p in requests]
            return list(await asyncio.gather(*sends)), len(opened)
        finally:
            await clients.aclose()
            server.close()

    return asyncio.run(main())


def test_copies_share_kept_alive_connections_bounded_per_upstream() -> None:
    outcomes, opened = _run(_ok(), [("GET", f"/p/{i}") for i in range(40)], max_connections=4, delay=0.01)
    assert [o.response.status for o in outcomes if o.response is not None] == [200] * 40
    assert 1 <= opened <= 4  # 40 copies, never more than 4 connections at once, each kept alive and reused


def test_sized_chunked_gzip_and_close_delimited_answers_are_read_whole() -> None:
    body = b'{"items": [1, 2, 3]}'
    packed = gzip.compress(body)
    answers = {
        b"/sized": _ok(body),
        b"/chunked": lambda h: b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\n%s\r\n%x\r\n%s\r\n"
        b"0\r\n\r\n" % (body[:5], len(body) - 5, body[5:]),
        b"/gzip": _ok(packed, b"content-encoding: gzip\r\n"),
        b"/close": lambda h: b"HTTP/1.1 200 OK\r\nconnection: close\r\n\r\n" + body,
    }

    def answer(head: bytes) -> bytes | None:
        return answers[head.split(b" ")[1]](head)

    outcomes, _ = _run(answer, [("GET", p.decode()) for p in answers])
    assert [o.response.body for o in outcomes if o.response is not None] == [body] * 4


def test_head_is_answered_without_waiting_for_a_body() -> None:
    outcomes, _ = _run(lambda head: b"HTTP/1.1 200 OK\r\ncontent-length: 500\r\n\r\n", [("HEAD", "/p")],
                       timeout_s=2.0)
    assert [(o.response.status if o.response else None, o.error_kind) for o in outcomes] == [(200, None)]


def test_failures_are_named_like_the_cause_labels() -> None:
    (silent,), _ = _run(lambda head: None, [("GET", "/p")], timeout_s=0.3)
    assert (silent.error_kind, (silent.error or "").split(":")[0]) == ("timeout", "ReadTimeout")
    assert silent.latency_ms >= 300
    (hung_up,), _ = _run(lambda head: b"HTTP/1.1 200 OK\r\ncontent-length: 99\r\n\r\npartial", [("GET", "/p")],
                         timeout_s=0.5)
    assert hung_up.error_kind in ("protocol", "timeout")  # the server keeps the half answer's connection open

    async def refused() -> Outcome:
        clients = UpstreamClients()
        up = Upstream(url=f"http://127.0.0.1:{free_port()}")
        try:
            return await clients.send(up, clients.build(up, "GET", "/p", [], b""))
        finally:
            await clients.aclose()

    outcome = asyncio.run(refused())
    assert (outcome.error_kind, (outcome.error or "").split(":")[0]) == ("connect", "ConnectError")


def test_the_target_is_the_clients_path_and_host_names_the_upstream() -> None:
    seen: list[bytes] = []

    def answer(head: bytes) -> bytes:
        seen.append(head)
        return _ok()(head)

    async def main() -> None:
        server, port, _ = await _server(answer)
        clients = UpstreamClients()
        up = Upstream(url=f"http://127.0.0.1:{port}")
        try:
            request = clients.build(up, "GET", "/p%20x?q=1&r", [("x-a", "1")], b"")
            assert request.raw_path == "/p%20x?q=1&r"
            assert (await clients.send(up, request)).error is None
        finally:
            await clients.aclose()
            server.close()

    asyncio.run(main())
    assert seen[0].startswith(b"GET /p%20x?q=1&r HTTP/1.1\r\nhost: 127.0.0.1:")
    assert b"\r\nx-a: 1\r\n" in seen[0]


def _late_copy_then_another(late_s: float | None) -> tuple[list[Outcome], int, int]:
    """One copy that times out, the wait for its connection to drain (bounded), then a second copy: the outcomes,
    the connections the server saw and those still draining at the end."""
    async def main() -> tuple[list[Outcome], int, int]:
        # each connection's first answer late_s late (None: never, within the test), later ones at once
        server, port, opened = await _server(_ok(), first_delay=30.0 if late_s is None else late_s)
        clients = UpstreamClients()
        up = Upstream(url=f"http://127.0.0.1:{port}", timeout_s=0.05)
        try:
            first = await clients.send(up, clients.build(up, "GET", "/late", [], b""))
            pool = clients.pool(up)
            for _ in range(600):  # bounded: until the late answer came (or the drain gave up) and it left draining
                if not pool._draining:
                    break
                await asyncio.sleep(0.05)
            second = await clients.send(up, clients.build(up, "GET", "/prompt", [], b""))
            return [first, second], len(opened), len(pool._draining)
        finally:
            await clients.aclose()
            server.close()

    return asyncio.run(main())


def test_a_late_answer_drains_and_its_connection_serves_the_next_copy(monkeypatch) -> None:
    """A target slower than its timeout: the copy is a timeout, but its connection is not closed — the late
    answer is read and the connection kept, so the next copy opens none (it used to cost a new connection per
    copy on both sides)."""
    monkeypatch.setattr(wire, "DRAIN_S", 30.0)  # the late answer (0.2 s) comes well within it, busy machine or not
    (first, second), opened, draining = _late_copy_then_another(0.2)
    assert first.error_kind == "timeout" and second.response is not None and second.response.status == 200
    assert (opened, draining) == (1, 0)


def test_a_connection_whose_answer_never_comes_is_closed_after_the_drain(monkeypatch) -> None:
    monkeypatch.setattr(wire, "DRAIN_S", 0.2)
    (first, second), opened, draining = _late_copy_then_another(None)
    assert first.error_kind == "timeout" and second.error_kind == "timeout"  # the next connection's first: late too
    assert opened == 2 and draining == 1  # the first closed after its drain; the second drains now
