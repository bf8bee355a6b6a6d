"""The façade's own timers wake only when there is something to do (issue 21: an idle façade woke ~27 times a
second, which weighed on bench_facade's callgrind verdict): upstream timeouts on one timer at the earliest
deadline, the access log's flush armed by a written line, the embedded admin server without uvicorn's tick."""

from __future__ import annotations

import asyncio
import json
import math
import time

import httpx
import uvicorn
from facade_harness import table_text
from mitmproxy import hooks

from proxy.addons import telemetry as telemetry_module
from proxy.addons.admin_server import AdminServer, _EmbeddedServer
from strangler.procs import free_port
from tests.loop_wait import until

TOKEN = "t" * 24


def test_upstream_timer_is_armed_at_the_earliest_deadline_and_none_while_idle(facade):
    facade.write(table_text("new"))
    assert facade.state.reload()

    async def main() -> None:
        up = facade.upstream
        up.running()
        assert up._timer is None  # nothing in flight: nothing armed
        slow = facade.send(facade.flow(path="/files/a"))  # legacy, timeout_s 10 (the default)
        assert up._timer is not None and up._armed_at == up.in_flight[slow.id][0]
        quick = facade.send(facade.flow())  # svc, timeout_s 2: an earlier deadline re-arms the timer
        assert up._armed_at == up.in_flight[quick.id][0] < up.in_flight[slow.id][0]
        later = facade.send(facade.flow(path="/files/b"))  # a later deadline keeps it
        assert up._armed_at == up.in_flight[quick.id][0] < up.in_flight[later.id][0]
        for f in (quick, slow, later):
            facade.answer(f)
        assert not up.in_flight
        await up.done()
        assert up._timer is None and up._armed_at == math.inf

    asyncio.run(main())


def test_upstream_timer_aborts_the_overdue_requests_only_and_rearms_for_the_rest(facade, monkeypatch):
    facade.write(table_text("new"))
    assert facade.state.reload()
    aborted = []

    def abort(flow) -> None:
        aborted.append(flow)
        if len(aborted) == 1:
            raise RuntimeError("one flow's abort failing must not keep the others from timing out")

    async def main() -> None:
        up = facade.upstream
        up.running()
        monkeypatch.setattr(up, "_abort", abort)
        first, second, waiting = (facade.send(facade.flow(path=f"/api/items/{i}")) for i in range(3))
        for f in (first, second):  # overdue
            up.in_flight[f.id] = (time.monotonic() - 1.0, f)
        up._arm(time.monotonic() - 1.0)
        await until(lambda: len(aborted) == 2)
        assert aborted == [first, second] and list(up.in_flight) == [waiting.id]
        assert up._timer is not None and up._armed_at == up.in_flight[waiting.id][0]  # re-armed for the rest
        facade.answer(waiting)
        await up.done()

    asyncio.run(main())


def test_access_log_flush_is_armed_by_a_line_and_runs_once(facade, tmp_path, monkeypatch):
    monkeypatch.setattr(telemetry_module, "FLUSH_SECONDS", 0.05)
    log_path = tmp_path / "access.jsonl"
    facade.tctx.configure(facade.telemetry, strangler_access_log=str(log_path))

    async def main() -> None:
        tel = facade.telemetry
        tel.running()
        assert tel._flush_timer is None  # nothing written: no timer
        facade.answer(facade.send(facade.flow(headers={"X-Request-ID": "req-00000001"})))
        timer = tel._flush_timer
        assert timer is not None
        facade.answer(facade.send(facade.flow(headers={"X-Request-ID": "req-00000002"})))
        assert tel._flush_timer is timer  # one flush for the lines buffered meanwhile
        assert log_path.read_text() == ""  # still in the buffer
        await until(lambda: tel._flush_timer is None)
        assert [json.loads(line)["request_id"] for line in log_path.read_text().splitlines()] == [
            "req-00000001",
            "req-00000002",
        ]
        facade.answer(facade.send(facade.flow(headers={"X-Request-ID": "req-00000003"})))
        assert tel._flush_timer is not None  # the next line arms the next flush
        await tel.done()  # cancels it and flushes on close
        assert tel._flush_timer is None and len(log_path.read_text().splitlines()) == 3

    asyncio.run(main())


def test_embedded_admin_server_computes_its_date_header_and_stops_without_a_tick(facade, monkeypatch):
    monkeypatch.setenv("STRANGLER_ADMIN_TOKEN", TOKEN)
    admin = AdminServer(facade.state)
    facade.tctx.options.strangler_admin_port = free_port()
    facade.tctx.master.addons.invoke_addon_sync(admin, hooks.ConfigureHook({"strangler_admin_port"}))

    async def main() -> None:
        await admin.running()
        assert admin.server is not None and admin.task is not None
        url = f"http://127.0.0.1:{admin.port}/healthz"
        async with httpx.AsyncClient(timeout=10) as client:
            for _ in range(200):  # bounded: the server binds in its task
                try:
                    r = await client.get(url)
                    break
                except httpx.ConnectError:
                    await asyncio.sleep(0.02)
        assert r.status_code == 200
        assert r.headers["server"] == "uvicorn" and r.headers["date"].endswith(" GMT")
        task = admin.task
        await admin.done()  # sets should_exit: main_loop returns at once, not at its next tick
        assert task.done() and not task.cancelled() and admin.server is None

    asyncio.run(main())


def test_embedded_server_main_loop_waits_for_should_exit() -> None:
    config = uvicorn.Config(lambda scope, receive, send: None, log_config=None, date_header=False)
    config.load()
    server = _EmbeddedServer(config)
    assert server.should_exit is False
    assert server.server_state.default_headers == [(b"server", b"uvicorn")]  # no Date when it is switched off

    async def main() -> None:
        loop = asyncio.create_task(server.main_loop())
        await asyncio.sleep(0.05)
        assert not loop.done()
        server.should_exit = True
        await asyncio.wait_for(loop, 10)

    asyncio.run(main())
