"""The shadow addon through the real Router in a mitmproxy test master: what is copied where, bounded and
counted, signed, compared and stored — the worker core runs in-process (shadow_harness.InProcessLink) and
upstreams answer through httpx.MockTransport (the network is not the part under test)."""
from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from mitmproxy import exceptions
from mitmproxy.test import taddons
from shadow_harness import LEGACY_PORT, PLAIN_PORT, SVC_PORT, Rig, run, table_text
from strangler_app import protocol as signing

from proxy.addons.shadow import NOISE_WARMUP, Shadow
from proxy.addons.state import FacadeState
from proxy.parity import ParityStore
from proxy.shadow.link import INTAKE_MS

KEY = "unit-shadow-key-0123456789abcdef"


@pytest.fixture
def routes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("STRANGLER_SHADOW_KEY", KEY)
    path = tmp_path / "routes.yaml"
    path.write_text(table_text("shadow"))
    return path


def fields(store: ParityStore) -> dict[tuple[str, str], object]:
    store.flush()
    return {(s.route, s.field): s for s in store.field_stats("items")}


def test_shadow_serves_legacy_copies_to_target_and_records_the_json_path(routes: Path) -> None:
    async def body(rig: Rig) -> None:
        rig.upstreams.bodies[SVC_PORT] = {"id": 7, "price": "9.99"}
        f = rig.send(path="/api/items/7?x=1")
        assert f.metadata["strangler"].upstream == "legacy" and (f.request.host, f.request.port) == ("127.0.0.1", 5000)
        rig.answer(f)
        await rig.settle()
        (copy,) = rig.upstreams.at(SVC_PORT)
        assert copy.method == "GET" and copy.url.raw_path == b"/api/items/7?x=1"
        assert copy.headers["host"] == "127.0.0.1:8101" and signing.HEADER not in copy.headers
        assert json.loads(f.response.content) == {"id": 7, "price": "1.00"}  # the client's answer is legacy's
        stats = fields(rig.store)
        assert set(stats) == {("/api/items/{id}", "$.price")}
        (example,) = rig.store.examples("items")
        assert example.difference["path"] == "$.price" and example.difference["candidate"] == "9.99"
        assert rig.metric("strangler_shadow_comparisons_total", feature="items", result="diff") == 1

    run(routes, body)


def test_equal_answers_count_as_a_match(routes: Path) -> None:
    async def body(rig: Rig) -> None:
        rig.answer(rig.send())
        await rig.settle()
        assert rig.metric("strangler_shadow_comparisons_total", feature="items", result="match") == 1
        assert fields(rig.store) == {}

    run(routes, body)


@pytest.mark.parametrize(("rate", "expect"), [(0.0, "none"), (1.0, "all"), (0.5, "some")])
def test_sample_rate_drops_are_counted(routes: Path, rate: float, expect: str) -> None:
    routes.write_text(table_text("shadow", parity=f"{{sample_rate: {rate}, noise_sample_rate: 0, max_in_flight: 100}}"))

    async def body(rig: Rig) -> None:
        for i in range(40):
            rig.answer(rig.send(path=f"/api/items/{i}"))
        await rig.settle()
        copies = len(rig.upstreams.at(SVC_PORT))
        dropped = rig.metric("strangler_shadow_dropped_total", feature="items", reason="sampled_out")
        assert copies + dropped == 40
        assert {"none": copies == 0, "all": copies == 40, "some": 5 < copies < 35}[expect], copies

    run(routes, body)


def test_in_flight_cap_drops_and_counts_instead_of_queueing(routes: Path) -> None:
    routes.write_text(table_text("shadow", parity="{max_in_flight: 2, noise_sample_rate: 0}"))

    async def body(rig: Rig) -> None:
        rig.upstreams.gate = asyncio.Event()
        flows = [rig.send(path=f"/api/items/{i}") for i in range(5)]
        for f in flows:
            rig.answer(f)  # the client is answered at once, copies still hanging
        await asyncio.sleep(0.05)
        assert rig.shadow.in_flight["items"] == 2 and len(rig.link.core.tasks) == 2
        assert rig.metric("strangler_shadow_in_flight", feature="items") == 2
        assert rig.metric("strangler_shadow_dropped_total", feature="items", reason="in_flight_cap") == 3
        rig.upstreams.gate.set()
        await rig.settle()
        assert rig.shadow.in_flight["items"] == 0 and rig.metric("strangler_shadow_in_flight", feature="items") == 0
        rig.answer(rig.send(path="/api/items/99"))  # room again
        await rig.settle()
        assert len(rig.upstreams.at(SVC_PORT)) == 3

    run(routes, body)


def test_a_lost_worker_counts_its_copies_as_dropped_and_the_gauge_starts_again_from_zero(routes: Path) -> None:
    routes.write_text(table_text("shadow", parity="{max_in_flight: 2, noise_sample_rate: 0}"))

    async def body(rig: Rig) -> None:
        rig.upstreams.gate = asyncio.Event()
        for i in range(2):
            rig.answer(rig.send(path=f"/api/items/{i}"))
        await asyncio.sleep(0.05)
        assert rig.metric("strangler_shadow_in_flight", feature="items") == 2
        rig.shadow._on_lost()  # what the link calls when the worker process died
        assert rig.metric("strangler_shadow_in_flight", feature="items") == 0
        assert rig.metric("strangler_shadow_dropped_total", feature="items", reason="worker_died") == 2
        rig.answer(rig.send(path="/api/items/9"))  # the cap counts from zero again: not dropped
        assert rig.metric("strangler_shadow_in_flight", feature="items") == 1
        rig.upstreams.gate.set()
        await rig.settle()  # (this in-process "worker" lives on: its events still come, unlike a lost one's)

    run(routes, body)


def test_writes_are_never_copied_to_a_target_without_dry_run_writes(routes: Path) -> None:
    async def body(rig: Rig) -> None:
        rig.answer(rig.send("POST", "/api/notes/1", b'{"a": 1}'))
        rig.answer(rig.send("GET", "/api/notes/1"))
        await rig.settle()
        assert [r.method for r in rig.upstreams.at(PLAIN_PORT)] == ["GET"]
        assert rig.metric("strangler_shadow_dropped_total", feature="notes", reason="write_without_dry_run") == 1

    run(routes, body)


def test_writes_to_a_dry_run_target_carry_a_valid_signature_and_no_second_legacy_call(routes: Path) -> None:
    routes.write_text(table_text("shadow", parity="{noise_sample_rate: 1.0}"))

    async def body(rig: Rig) -> None:
        payload = b'{"price": "2.00"}'
        rig.answer(rig.send("PUT", "/api/items/7?v=2", payload, headers={signing.HEADER: "t=1,v1=forged"}))
        await rig.settle()
        (copy,) = rig.upstreams.at(SVC_PORT)
        assert copy.method == "PUT" and copy.content == payload
        header = copy.headers[signing.HEADER]
        assert header != "t=1,v1=forged"
        assert signing.verify(KEY, "PUT", "/api/items/7?v=2", payload, header)
        assert not signing.verify(KEY, "PUT", "/api/items/8?v=2", payload, header)
        assert rig.upstreams.at(LEGACY_PORT) == []  # the write reached legacy once: the client's own request

    run(routes, body)


def test_without_a_key_writes_are_not_shadowed_but_reads_are(routes: Path, monkeypatch) -> None:
    monkeypatch.delenv("STRANGLER_SHADOW_KEY")

    async def body(rig: Rig) -> None:
        rig.answer(rig.send("POST", "/api/items/7", b"{}"))
        rig.answer(rig.send("GET", "/api/items/7"))
        await rig.settle()
        assert [r.method for r in rig.upstreams.at(SVC_PORT)] == ["GET"]
        assert rig.metric("strangler_shadow_dropped_total", feature="items", reason="no_shadow_key") == 1

    run(routes, body)


def test_noise_sample_asks_legacy_again_only_for_get_and_head(routes: Path) -> None:
    routes.write_text(table_text("shadow", parity="{noise_sample_rate: 1.0}"))

    async def body(rig: Rig) -> None:
        for method in ("GET", "HEAD", "POST", "PUT"):
            rig.answer(rig.send(method, "/api/items/7", b"" if method in ("GET", "HEAD") else b"{}"))
        await rig.settle()
        assert sorted(r.method for r in rig.upstreams.at(LEGACY_PORT)) == ["GET", "HEAD"]
        assert sorted(r.method for r in rig.upstreams.at(SVC_PORT)) == ["GET", "HEAD", "POST", "PUT"]
        assert rig.metric("strangler_shadow_requests_total", feature="items", kind="noise", outcome="ok") == 2

    run(routes, body)


def test_each_route_gets_its_first_noise_samples_whatever_the_rate(routes: Path) -> None:
    """A low rate alone could leave a route with no legacy-vs-legacy sample at all on a short run: the first
    NOISE_WARMUP reads of each route are always sampled, then the rate decides (here 0.0001: nothing more)."""
    routes.write_text(table_text("shadow", parity="{noise_sample_rate: 0.0001}"))

    async def body(rig: Rig) -> None:
        for i in range(NOISE_WARMUP + 3):
            rig.answer(rig.send("GET", f"/api/items/{i}"))
        rig.answer(rig.send("PUT", "/api/items/1", b"{}"))  # a write never gets a second legacy call
        await rig.settle()
        assert len(rig.upstreams.at(LEGACY_PORT)) == NOISE_WARMUP > 0
        assert rig.metric("strangler_shadow_requests_total", feature="items", kind="noise",
                          outcome="ok") == NOISE_WARMUP

    run(routes, body)


def test_field_that_differs_legacy_vs_legacy_is_cancelled_as_noise(routes: Path) -> None:
    routes.write_text(table_text("shadow", parity="{noise_sample_rate: 1.0}"))

    async def body(rig: Rig) -> None:
        rig.upstreams.stamped = True  # every answer carries a fresh stamp, like a server clock
        for _ in range(5):
            rig.answer(rig.send(), body={"id": 7, "price": "1.00", "stamp": -1})
        await rig.settle()
        rig.store.flush()
        assert rig.store.noise_fields("items") == ["$.stamp"]
        assert rig.metric("strangler_shadow_comparisons_total", feature="items", result="diff") == 0

    run(routes, body)


def test_canary_with_shadow_other_side_compares_legacy_as_reference(routes: Path) -> None:
    routes.write_text(table_text("canary", 100, parity="{shadow_other_side: true, noise_sample_rate: 0}",
                                 writes_owner="service"))

    async def body(rig: Rig) -> None:
        rig.upstreams.bodies[LEGACY_PORT] = {"id": 7, "price": "5.00"}
        f = rig.send()
        assert f.metadata["strangler"].upstream == "svc" and f.metadata["strangler"].shadow_to == "legacy"
        rig.answer(f, body={"id": 7, "price": "6.00"})
        rig.answer(rig.send("POST", "/api/items/7", b"{}"))  # a write is never copied to legacy
        await rig.settle()
        assert [r.method for r in rig.upstreams.at(LEGACY_PORT)] == ["GET"]
        rig.store.flush()
        (example,) = rig.store.examples("items")
        assert (example.difference["reference"], example.difference["candidate"]) == ("5.00", "6.00")
        assert rig.metric("strangler_shadow_dropped_total", feature="items", reason="write_without_dry_run") == 1

    run(routes, body)


def test_failed_copy_is_recorded_as_an_error_and_the_client_is_untouched(routes: Path) -> None:
    async def body(rig: Rig) -> None:
        rig.upstreams.status[SVC_PORT] = 503
        f = rig.answer(rig.send())
        await rig.settle()
        assert f.response.status_code == 200
        assert rig.metric("strangler_shadow_comparisons_total", feature="items", result="error") == 1
        rig.store.flush()
        (route,) = rig.store.route_stats("items")
        assert route.errors == 1 and route.compared == 0

    run(routes, body)


def test_the_intake_window_option_is_bounded_and_a_bad_value_keeps_the_last_good_one() -> None:
    shadow = Shadow(FacadeState())
    with taddons.context(shadow) as tctx:
        assert shadow._intake_ms == INTAKE_MS
        tctx.configure(shadow, strangler_shadow_intake_ms=0)  # every message at once
        assert shadow._intake_ms == 0
        for bad in (-1, 101):
            with pytest.raises(exceptions.OptionsError, match=rf"strangler_shadow_intake_ms={bad} is out of range. "
                                                              r"Fix: use 0-100"):
                tctx.configure(shadow, strangler_shadow_intake_ms=bad)
        assert shadow._intake_ms == 0
