"""A lean HTTP/1.1 client for shadow copies: keep-alive connections per upstream, httptools' C parser.

Why not httpx here: a copy is one small loopback exchange, and httpx + httpcore + anyio + h11 spent ~1.5 ms of
worker CPU on it (profiled under bench_shadow's load: more than the comparison itself, and 3x the whole copy's
budget of issue 21). This client does what a copy needs and nothing else: one request on an idle (or new)
connection, the answer read with httptools (chunked or sized, decoded as the client sees it), the connection
kept alive when the server allows. Bounded: at most `max_connections` per upstream; a copy waiting longer than
the upstream's timeout for a connection or an answer fails as a timeout (the copy's in-flight slot is freed, as
the live path would). Errors are named like httpx's so cause labels stay what the docs show:
ReadTimeout (timeout), ConnectError (connect), RemoteProtocolError (protocol).

A connection whose answer came too late is not closed at once: it drains (at most `max_connections` per
upstream, each for at most DRAIN_S) and goes back to the pool if the late answer ends cleanly. Why: a target
slower than its timeout otherwise costs a new TCP connection per copy — connect and accept on both sides, and
the target writing its answer into a closed socket — CPU taken from the client's cores on a small machine.
"""
from __future__ import annotations

import asyncio
import ssl
from collections import deque
from collections.abc import Callable
from urllib.parse import urlsplit

import httptools

STALE = "Server disconnected without sending a response"  # closed before any answer byte: a pool race
DRAIN_S = 1.0  # how long a connection whose answer timed out may wait for it before it is closed
_SSL: ssl.SSLContext | None = None


class WireError(Exception):
    """A copy without an answer; `kind` is timeout | connect | protocol, str() is "<Name>: <message>"."""

    def __init__(self, kind: str, name: str, message: str):
        super().__init__(f"{name}: {message}")
        self.kind = kind


class _Connection(asyncio.Protocol):
    """One keep-alive connection; one exchange at a time (the pool hands it out)."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.answer: asyncio.Future[tuple[int, list[tuple[str, str]], bytes]] | None = None
        self.closed = False
        self.head_only = False
        self._status = 0
        self._headers: list[tuple[str, str]] = []
        self._body: list[bytes] = []
        self._got_bytes = False
        self.after: Callable[[_Connection], None] | None = None  # told once when the exchange ends (draining)

    # asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self._got_bytes = True
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._fail("upgrade answered to a shadow copy")
        except httptools.HttpParserError as exc:
            self._fail(f"malformed answer: {exc}")

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self.answer is not None and not self.answer.done():
            if self._status and self._close_delimited():
                self._done(keep_alive=False)  # neither sized nor chunked: the close ends the body
            else:
                self._fail(STALE if not self._got_bytes else "peer closed connection without sending complete "
                           "message body")
        self._ended()

    def _close_delimited(self) -> bool:
        names = {k for k, _ in self._headers}
        return "content-length" not in names and "transfer-encoding" not in names

    # httptools callbacks
    def on_header(self, name: bytes, value: bytes) -> None:
        self._headers.append((name.decode("latin-1").lower(), value.decode("latin-1")))  # names as Response keeps them

    def on_headers_complete(self) -> None:
        self._status = self.parser.get_status_code()
        if self.head_only:  # no body follows an answer to HEAD, whatever its content-length says
            self._done(keep_alive=False)

    def on_body(self, body: bytes) -> None:
        self._body.append(body)

    def on_message_complete(self) -> None:
        if not self.head_only:
            self._done(keep_alive=self.parser.should_keep_alive())

    # exchange
    def send(self, data: bytes, head_only: bool) -> asyncio.Future[tuple[int, list[tuple[str, str]], bytes]]:
        assert self.transport is not None
        self.answer = asyncio.get_running_loop().create_future()
        self.head_only, self._status, self._headers, self._body, self._got_bytes = head_only, 0, [], [], False
        self.transport.write(data)
        return self.answer

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()

    def _done(self, keep_alive: bool) -> None:
        if not keep_alive:
            self.close()
        if self.answer is not None and not self.answer.done():
            self.answer.set_result((self._status, self._headers, b"".join(self._body)))
        self._ended()

    def _fail(self, message: str) -> None:
        self.close()
        if self.answer is not None and not self.answer.done():
            self.answer.set_exception(WireError("protocol", "RemoteProtocolError", message))
        self._ended()

    def _ended(self) -> None:
        after, self.after = self.after, None
        if after is not None:
            after(self)


class WirePool:
    """Keep-alive connections to one upstream (an http or https URL without a path: proxy/table.py checks)."""

    def __init__(self, url: str, max_connections: int):
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"{url!r} is not an http(s) URL. Fix: write the upstream as http://host:port")
        self.host = parts.hostname
        self.port = parts.port or (443 if parts.scheme == "https" else 80)
        self.tls = parts.scheme == "https"
        default = (parts.scheme == "https" and self.port == 443) or (parts.scheme == "http" and self.port == 80)
        self.host_header = parts.netloc.rsplit("@", 1)[-1] if not default else self.host
        self.max_connections = max_connections
        self._idle: deque[_Connection] = deque()
        self._slots = asyncio.Semaphore(max_connections)
        self._draining: set[_Connection] = set()

    def target(self, path: str) -> str:
        """The request target as sent (what a signature covers): the client's path and query, as it sent them."""
        return path if path.startswith("/") else "/" + path

    async def request(self, method: str, target: str, headers: list[tuple[str, str]], body: bytes,
                      timeout_s: float) -> tuple[int, list[tuple[str, str]], bytes]:
        head = [f"{method} {target} HTTP/1.1\r\nhost: {self.host_header}\r\n"]
        head.extend(f"{k}: {v}\r\n" for k, v in headers)
        if body or method not in ("GET", "HEAD", "DELETE", "OPTIONS"):
            head.append(f"content-length: {len(body)}\r\n")
        data = ("".join(head) + "\r\n").encode("utf-8", "surrogateescape") + body
        connection: _Connection | None = None
        try:
            async with asyncio.timeout(timeout_s):
                async with self._slots:
                    connection = await self._connection()
                    answer = await connection.send(data, method == "HEAD")
                    if not connection.closed:
                        self._idle.append(connection)
                    connection = None
                    return answer
        except TimeoutError:
            if connection is not None and connection.answer is not None and self._drain(connection):
                connection = None  # sent, its answer late: it drains and may be used again
            raise WireError("timeout", "ReadTimeout", f"no answer in {timeout_s:g}s") from None
        finally:
            if connection is not None:  # failed or cancelled mid-exchange: its state is unknown, never reused
                connection.close()

    def _drain(self, connection: _Connection) -> bool:
        """Let `connection` finish its late answer, then pool it; False (close it) when too many drain."""
        if connection.closed or len(self._draining) >= self.max_connections:
            return False
        self._draining.add(connection)
        closing = asyncio.get_running_loop().call_later(DRAIN_S, connection.close)  # -> connection_lost -> ended

        def ended(drained: _Connection) -> None:
            self._draining.discard(drained)
            closing.cancel()
            if not drained.closed:
                self._idle.append(drained)

        connection.after = ended
        return True

    async def _connection(self) -> _Connection:
        while self._idle:
            connection = self._idle.pop()  # the most recently used: least likely timed out by the server
            if not connection.closed:
                return connection
        loop = asyncio.get_running_loop()
        try:
            _, connection = await loop.create_connection(_Connection, self.host, self.port,
                                                         ssl=_ssl() if self.tls else None)
        except (OSError, ssl.SSLError) as exc:
            raise WireError("connect", "ConnectError", str(exc) or type(exc).__name__) from None
        return connection

    def close(self) -> None:
        for connection in list(self._draining):
            connection.close()
        while self._idle:
            self._idle.pop().close()


def _ssl() -> ssl.SSLContext:
    global _SSL
    if _SSL is None:
        _SSL = ssl.create_default_context()  # loading the CA bundle costs ~20 ms: once per process
    return _SSL
