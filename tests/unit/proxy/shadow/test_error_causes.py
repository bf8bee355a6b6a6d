"""Every shadow error comparison carries its cause — kind, upstream, elapsed time — into the parity store's
report and one log line (never a body, never a query string). Real loopback servers in the test's own event
loop play the candidate: one answering 503, one never answering, one closing every connection unanswered,
one closing its first connection unanswered (as a server timing out an idle kept-alive one does:
retried, not an error); a port nobody listens on is the refusal."""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from proxy.parity import ParityStore
from proxy.parity.causes import TRANSIENT_ERRORS, error_label
from proxy.parity.recent import evaluate
from proxy.shadow.engine import Engine, Job
from proxy.shadow.errors import ErrorLog, ShadowError
from proxy.table import load_table
from strangler.procs import free_port

Behaviour = Callable[[asyncio.StreamReader, asyncio.StreamWriter, int], Awaitable[None]]
BODY = b'{"id": 7, "secret-body": "s3cr3t"}'


async def _read_request(reader: asyncio.StreamReader) -> bool:
    try:
        await reader.readuntil(b"\r\n\r\n")
        return True
    except (asyncio.IncompleteReadError, ConnectionError):
        return False


async def _answer(writer: asyncio.StreamWriter, status: int, body: bytes = BODY) -> None:
    writer.write(b"HTTP/1.1 %d X\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
                 % (status, len(body), body))
    await writer.drain()


def _serving(status: int) -> Behaviour:
    async def serve(reader, writer, _n):
        while await _read_request(reader):
            await _answer(writer, status)
    return serve


async def _silent(reader, writer, _n):
    await _read_request(reader)
    await asyncio.sleep(30)


async def _hang_up(reader, writer, _n):
    await _read_request(reader)
    writer.close()


async def _hang_up_once(reader, writer, n):
    """The first connection is closed unanswered (a server timing out an idle connection); later ones answer."""
    if n == 0:
        await _read_request(reader)
        writer.close()
        return
    await _serving(200)(reader, writer, n)


async def _server(behaviour: Behaviour) -> tuple[asyncio.Server, int]:
    count = [0]

    async def handle(reader, writer):
        n, count[0] = count[0], count[0] + 1
        try:
            await behaviour(reader, writer, n)
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1]


def _table(tmp_path: Path, legacy: int, svc: int):
    path = tmp_path / "routes.yaml"
    path.write_text(f"""\
upstreams:
  legacy: {{url: "http://127.0.0.1:{legacy}", timeout_s: 5}}
  svc: {{url: "http://127.0.0.1:{svc}", timeout_s: 0.5}}
default: legacy
features:
  items:
    target: svc
    state: shadow
    routes:
      - {{methods: [GET], path: "/api/items/{{id}}"}}
""")
    return load_table(path)


def _shadow(tmp_path: Path, behaviour: Behaviour | None) -> tuple[list, list]:
    """One shadowed GET (mirror mode: the engine asks legacy for the reference); the feature's error groups."""
    events: list = []

    async def main() -> list:
        legacy, legacy_port = await _server(_serving(200))
        svc, svc_port = await _server(behaviour) if behaviour else (None, free_port())
        store = ParityStore(tmp_path / "parity.db", background=False)
        engine = Engine(store, "", events.append)
        table = _table(tmp_path, legacy_port, svc_port)
        try:
            job = Job("items", "/api/items/{id}", "GET", "/api/items/7?token=abc", (), b"", "svc", None, False)
            await engine.run(job, table, None)
            await engine.aclose()
            store.flush()
            rules = table.features["items"].parity
            return [g.to_dict() for g in evaluate("items", store.recent("items", rules.window), rules).groups]
        finally:
            store.close()
            legacy.close()
            if svc is not None:
                svc.close()

    return asyncio.run(main()), events


@pytest.mark.parametrize(("behaviour", "label"), [
    (_serving(503), error_label("5xx", "svc", "200 → 503")),
    (_silent, error_label("timeout", "svc", "ReadTimeout")),
    (None, error_label("connect", "svc", "ConnectError")),
    (_hang_up, error_label("protocol", "svc", "RemoteProtocolError")),
])
def test_error_comparison_has_kind_upstream_and_elapsed(tmp_path: Path, caplog: pytest.LogCaptureFixture,
                                                        behaviour: Behaviour | None, label: str) -> None:
    caplog.set_level(logging.WARNING, logger="strangler.shadow")
    groups, events = _shadow(tmp_path, behaviour)
    (group,) = groups
    assert (group["cause"], group["label"], group["count"]) == ("error", label, 1)
    low, high = group["elapsed_ms"]
    assert low == high >= 0
    assert group["headline"].startswith(f"candidate error ({label}) on 1 request, after ")
    if "timeout" in label:
        assert high >= 500  # the upstream's timeout_s: 0.5
    assert ("compared", "items", "error") in events
    (line,) = [r.getMessage() for r in caplog.records if r.getMessage().startswith("shadow error:")]
    kind = label.split(" ", 1)[0]
    assert line.startswith(f"shadow error: feature items GET /api/items/{{id}}: {kind} from svc after ")
    assert "s3cr3t" not in line and "token=abc" not in line  # never a body, never a query string


def test_a_connection_closed_unanswered_is_retried_once_not_an_error(tmp_path: Path) -> None:
    groups, events = _shadow(tmp_path, _hang_up_once)
    assert [g["cause"] for g in groups] == ["equal"]
    assert ("compared", "items", "match") in events


def test_transient_kinds_are_timeout_and_connect_only() -> None:
    assert {"timeout", "connect"} == TRANSIENT_ERRORS
    assert ShadowError.no_answer("timeout", "svc", 10.0, "ReadTimeout: no answer in 10s").classified().label \
        == "timeout from svc: ReadTimeout"


def test_error_log_is_bounded_and_says_how_many_it_skipped(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="strangler.shadow")
    errors = ErrorLog(burst=2, window_s=3600)
    failure = ShadowError.server_error("svc", 3.0, 200, 503)
    for _ in range(5):
        errors.record("items", "GET", "/api/items/{id}", failure)
    errors.close()
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 3 and lines[-1].startswith("shadow error: 3 5xx from svc more not logged")


def test_kind_of_reads_httpx_and_requests_exceptions() -> None:
    import httpx
    import requests
    from urllib3.exceptions import NewConnectionError

    from proxy.shadow.errors import kind_of

    refused = requests.exceptions.ConnectionError(NewConnectionError(None, "Connection refused"))
    assert [kind_of(e) for e in (httpx.ReadTimeout("x"), httpx.ConnectError("x"), httpx.RemoteProtocolError("x"),
                                 requests.exceptions.ReadTimeout("x"), requests.exceptions.ConnectTimeout("x"),
                                 refused, requests.exceptions.ConnectionError("Connection aborted."))] \
        == ["timeout", "connect", "protocol", "timeout", "timeout", "connect", "protocol"]
    said = ShadowError.no_answer("connect", "svc", 1.0, "ConnectionError: url: /api/items/7?token=abc (refused)")
    assert "abc" not in said.message and said.message.endswith("?… (refused)")


def test_parity_report_shows_the_error_cause_and_elapsed_time(tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    import strangler.cli.parity  # noqa: F401 - registers `parity` on the app
    from strangler.cli.app import app

    _shadow(tmp_path, _silent)   # one copy that never got an answer within the upstream's 0.5 s
    monkeypatch.setenv("COLUMNS", "160")
    done = CliRunner().invoke(app, ["parity", "report", "items", "--store", str(tmp_path / "parity.db"),
                                    "--routes", str(tmp_path / "routes.yaml")])
    assert done.exit_code == 0, done.output
    row = next(line for line in done.output.splitlines() if line.startswith("items"))
    assert row.split("│")[3].strip() == "1"    # feature │ compared │ noise │ errors │ …
    assert "candidate error (timeout from svc: ReadTimeout) on 1 request, after " in done.output
