"""A shadowed write goes only to a target that PROVED it rolls back (proxy/shadow/safety.py): probe first,
acknowledgement on every answer, unsafe at once and for good (kept in the parity store), ledgered once.
The engine is real; upstreams answer through httpx.MockTransport (shadow_harness.Upstreams)."""
from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest
from shadow_harness import SVC_PORT, Rig, Upstreams, run, table_text
from strangler_app import protocol

from proxy.ledger import default_ledger_path, read_records
from proxy.parity import ParityStore
from proxy.shadow import safety
from proxy.shadow.engine import Engine, Job
from proxy.table import load_table

KEY = "unit-safety-key-0123456789abcdef"


@pytest.fixture
def table(tmp_path: Path):
    path = tmp_path / "routes.yaml"
    path.write_text(table_text("shadow"))
    return load_table(path)


def _write(n: int) -> Job:
    return Job("items", "/api/items/{id}", "POST", f"/api/items/{n}", ((b"Content-Type", b"application/json"),),
               b'{"n": %d}' % n, "svc", None, False, 2.0)


def _drive(tmp_path: Path, table, upstreams: Upstreams, jobs: list[Job]) -> list[tuple]:
    """Run the jobs one after the other through a fresh Engine on the store in tmp_path; its events."""
    events: list[tuple] = []

    async def main() -> None:
        store = ParityStore(tmp_path / "parity.db", background=False)
        engine = Engine(store, KEY, events.append, transport=httpx.MockTransport(upstreams))
        for job in jobs:
            await engine.run(job, table, None)
        await engine.aclose()
        store.close()

    asyncio.run(main())
    return events


def _targets(tmp_path: Path) -> dict:
    with ParityStore(tmp_path / "parity.db", background=False) as store:
        return store.targets()


def test_a_target_that_ignores_the_protocol_gets_no_write_and_is_unsafe_for_good(tmp_path: Path, table) -> None:
    upstreams = Upstreams(KEY)
    upstreams.cooperates = False
    events = _drive(tmp_path, table, upstreams, [_write(n) for n in range(5)])
    assert len(upstreams.probes) == 1 and upstreams.seen == []  # the probe failed: not one write reached it
    assert [e for e in events if e[0] == "drop"] == [("drop", "items", "target_unsafe")] * 5
    (unsafe,) = [e for e in events if e[0] == "unsafe"]
    assert unsafe[1:3] == ("items", "svc") and "no X-Strangler-Dry-Run-Ack" in unsafe[3]
    print(f"\nprobe answer -> target marked unsafe (stored): {unsafe[4] * 1000:.2f} ms")
    target = _targets(tmp_path)["svc"]
    assert (target["state"], target["feature"]) == ("unsafe", "items")
    upstreams.cooperates = True  # a restarted worker trusts the store, not its luck: no probe, no write, no event
    again = _drive(tmp_path, table, upstreams, [_write(9)])
    assert again == [("drop", "items", "target_unsafe")] and len(upstreams.probes) == 1 and upstreams.seen == []


def test_a_proven_target_gets_signed_writes_and_each_answer_is_checked(tmp_path: Path, table) -> None:
    upstreams = Upstreams(KEY)
    events = _drive(tmp_path, table, upstreams, [_write(1), _write(2)])
    assert len(upstreams.probes) == 1 and [r.url.path for r in upstreams.seen] == ["/api/items/1", "/api/items/2"]
    assert all(protocol.verify(KEY, "POST", r.url.path, r.content, r.headers[protocol.HEADER])
               for r in upstreams.seen)
    assert events.count(("dry_run", "items", "200")) == 2 and not [e for e in events if e[0] in ("drop", "unsafe")]
    assert _targets(tmp_path)["svc"]["state"] == "proven"

    upstreams.cooperates = False  # redeployed without the middleware: the next answer lacks the ack
    events = _drive(tmp_path, table, upstreams, [_write(3), _write(4)])
    assert [r.url.path for r in upstreams.seen][-1] == "/api/items/3"  # one write committed, then none
    assert [e[0:3] for e in events if e[0] in ("drop", "unsafe")] == [
        ("unsafe", "items", "svc"), ("drop", "items", "no_dry_run_ack"), ("drop", "items", "target_unsafe")]
    assert ("dry_run", "items", "200") not in events  # an unacknowledged answer is never counted as a dry run
    seconds = next(e[4] for e in events if e[0] == "unsafe")
    print(f"\nwrite answered without ack -> target marked unsafe (stored): {seconds * 1000:.2f} ms")
    assert _targets(tmp_path)["svc"]["state"] == "unsafe"


def test_an_answer_with_a_forged_or_misbound_ack_is_unsafe(tmp_path: Path, table) -> None:
    upstreams = Upstreams("another-key-that-is-not-ours-000")  # acknowledges, but with the wrong key
    events = _drive(tmp_path, table, upstreams, [_write(1)])
    assert upstreams.seen == [] and "an invalid acknowledgement" in next(e for e in events if e[0] == "unsafe")[3]


def test_a_burst_waits_for_one_probe(tmp_path: Path, table) -> None:
    upstreams, events = Upstreams(KEY), []

    async def main() -> None:
        store = ParityStore(tmp_path / "parity.db", background=False)
        engine = Engine(store, KEY, events.append, transport=httpx.MockTransport(upstreams))
        await asyncio.gather(*(engine.run(_write(n), table, None) for n in range(5)))
        await engine.aclose()
        store.close()

    asyncio.run(main())
    assert len(upstreams.probes) == 1 and len(upstreams.seen) == 5 and events.count(("dry_run", "items", "200")) == 5


def test_a_probe_with_no_answer_leaves_the_target_unproven_and_drops(tmp_path: Path, table) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    events: list[tuple] = []

    async def main() -> None:
        store = ParityStore(tmp_path / "parity.db", background=False)
        engine = Engine(store, KEY, events.append, transport=httpx.MockTransport(refuse))
        await engine.run(_write(1), table, None)
        await engine.run(_write(2), table, None)  # within PROBE_RETRY_S: not probed again
        await engine.aclose()
        store.close()

    asyncio.run(main())
    assert [e for e in events if e[0] == "drop"] == [("drop", "items", "unproven")] * 2
    assert _targets(tmp_path) == {}


def test_the_facade_ledgers_an_unsafe_target_once(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("STRANGLER_SHADOW_KEY", KEY)  # the var dir is this test's own (tests/conftest.py)
    monkeypatch.delenv("STRANGLER_STORE_URL", raising=False)
    routes = tmp_path / "routes.yaml"
    routes.write_text(table_text("shadow"))

    async def body(rig: Rig) -> None:
        rig.upstreams.cooperates = False
        for n in range(3):
            rig.answer(rig.send("POST", f"/api/items/{n}", b"{}"))
            await rig.settle()
        await asyncio.wait(list(rig.shadow._ledger_tasks), timeout=5) if rig.shadow._ledger_tasks else None
        assert rig.upstreams.at(SVC_PORT) == []
        assert rig.metric("strangler_shadow_dropped_total", feature="items", reason="target_unsafe") == 3

    run(routes, body)
    records = read_records(default_ledger_path())
    assert [(r["actor"], r["evidence"]["action"], r["reason"]) for r in records] == [
        ("shadow-worker", "dry_run.unsafe", f"svc: {safety.UNSAFE_TEXT}")]


def test_the_facade_strips_the_protocols_headers_from_clients() -> None:
    from mitmproxy.http import Headers

    from proxy.addons import headers as hdr

    request = Headers(host="x", x_strangler_shadow="t=1,n=00,v2=ff", x_strangler_dry_run_ack="v1=ff", accept="*/*")
    hdr.rewrite_request(request, "rid-12345678", "127.0.0.1", "http", "127.0.0.1:9")
    assert protocol.HEADER not in request and protocol.ACK_HEADER not in request and request["accept"] == "*/*"
    answer = Headers(x_strangler_dry_run_ack="v1=ff", content_type="application/json")
    hdr.rewrite_response(answer, "rid-12345678", "svc", "f", True)
    assert protocol.ACK_HEADER not in answer and answer["content-type"] == "application/json"
