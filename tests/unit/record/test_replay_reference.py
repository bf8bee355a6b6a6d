"""What a replayed request is compared with (proxy/record/replay.py), against two real loopback HTTP servers
sharing one mutable row — legacy and a candidate that reads the same data (as the demo's sync keeps them in
step): a read's reference is legacy asked NOW, so data that moved since the recording is neither a difference
nor noise; writes use the recorded answer and never reach legacy; a legacy that does not answer means the
recorded answers and no noise at all."""
from __future__ import annotations

import asyncio
import itertools
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from strangler_app import protocol

from proxy.parity.store import ParityStore, open_store
from proxy.record.replay import Replayer, Summary
from proxy.record.storage import RecordingStore
from proxy.record.writer import Writer
from proxy.table import parse_table
from strangler.procs import free_port
from tests.unit.record.test_record_units import _captured

KEY = "replay-unit-key-0123456789abcdef"
TABLE = """\
upstreams:
  legacy: {{url: "{legacy}", timeout_s: 5}}
  svc: {{url: "{svc}", timeout_s: 5}}
default: legacy
features:
  items:
    target: svc
    routes: [{{methods: [GET, POST], path: "/api/items/{{id}}"}}]
    record: {{rate: 1.0}}
"""


@dataclass
class Backend:
    """One loopback server answering from the shared row; `bug` renames the candidate's Name on item 2."""

    row: dict[str, str]
    bug: bool = False
    seen: list[tuple[str, str, str]] = field(default_factory=list)  # method, path, Cookie
    url: str = ""

    def answer(self, path: str) -> bytes:
        item = int(path.rsplit("/", 1)[-1])
        name = self.row["name"].upper() if self.bug and item == 2 else self.row["name"]
        return json.dumps({"Id": item, "Name": name, "Price": self.row["price"],
                           "ServerTime": next(_CLOCK)}).encode()


_CLOCK = itertools.count()  # every answer's ServerTime differs: genuine live noise


def _serve(backend: Backend) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def _reply(self, status: int, body: bytes, extra: tuple[tuple[str, str], ...] = ()) -> None:
            self.send_response(status)
            for name, value in (("Content-Type", "application/json"), ("Content-Length", str(len(body))), *extra):
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            backend.seen.append(("GET", self.path, self.headers.get("Cookie", "")))
            self._reply(200, b'{"status": "ok"}' if self.path == "/healthz" else backend.answer(self.path))

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            backend.seen.append(("POST", self.path, self.headers.get("Cookie", "")))
            signature = self.headers.get(protocol.HEADER, "")  # a dry-run target: acknowledges, keeps nothing
            self._reply(200, b'{"id": 9}', ((protocol.ACK_HEADER, protocol.ack(KEY, signature, 200)),))

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    backend.url = f"http://127.0.0.1:{server.server_address[1]}"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture()
def backends() -> Iterator[tuple[Backend, Backend]]:
    row = {"name": "Pen", "price": "1.00"}
    legacy, candidate = Backend(row), Backend(row, bug=True)
    servers = [_serve(legacy), _serve(candidate)]
    yield legacy, candidate
    for server in servers:
        server.shutdown()
        server.server_close()


def _recorded(store: ParityStore, legacy: Backend, table_text: str) -> RecordingStore:
    """Two logged-in reads and one write as the façade would have recorded them from legacy, before the row
    changes (the Cookie is stored as a placeholder)."""
    rec = RecordingStore(store)
    writer = Writer(rec)
    writer.table = parse_table(table_text)
    for item in (1, 2):
        writer.add(_captured(f"/api/items/{item}", answer=legacy.answer(f"/api/items/{item}")))
    writer.add(_captured("/api/items/3", method="POST", body=b'{"n": 1}', answer=b'{"id": 9}'))
    writer.flush()
    return rec


def _replay(store: ParityStore, rec: RecordingStore, table_text: str, **options: object) -> Summary:
    table = parse_table(table_text)
    replayer = Replayer("items", table.features["items"], table.upstreams["svc"], "svc", table.upstreams["legacy"],
                        store, {"STRANGLER_REPLAY_COOKIE": "session=abc"}, concurrency=1, **options)  # type: ignore[arg-type]
    return asyncio.run(replayer.run((r, 1.0) for r in rec.recordings("items", limit=100)))


def _noise(store: ParityStore) -> dict[str, int]:
    return {s.field: s.counts.noise for s in store.field_stats("items")}


def test_a_read_is_compared_with_legacy_now_and_moved_data_is_no_noise(backends: tuple[Backend, Backend],
                                                                       tmp_path: Path) -> None:
    legacy, candidate = backends
    text = TABLE.format(legacy=legacy.url, svc=candidate.url)
    with open_store(tmp_path / "parity.db", background=False) as store:
        rec = _recorded(store, legacy, text)
        legacy.row["price"] = "2.50"  # the data moved since the recording (legacy and candidate both see it)
        summary = _replay(store, rec, text)
        assert summary.noise_skipped is None, summary
        assert (summary.compared, summary.equal, summary.differ) == (2, 1, 1), summary
        assert [(path, fields) for _, _, path, fields in summary.differing] == [("/api/items/2", ["$.Name"])]
        assert summary.skipped == {"write (the target has not proven it honours dry-run)": 1}
        store.flush()
        noise = _noise(store)
        assert "$.Price" not in noise, noise  # neither a difference nor noise: no row at all
        assert noise["$.ServerTime"] == 2 and "$.ServerTime" in store.noise_fields("items"), noise  # live noise
        assert store.route_stats("items")[0].noise_samples == 2  # the first reads of the route (warm-up)
        asked = sorted((m, p, c) for m, p, c in legacy.seen if p != "/healthz")  # the reference and noise sample
        assert asked == [("GET", "/api/items/1", "session=abc")] * 2 + [("GET", "/api/items/2", "session=abc")] * 2


def test_a_write_is_compared_with_its_recorded_answer_and_never_sent_to_legacy(
        backends: tuple[Backend, Backend], tmp_path: Path) -> None:
    legacy, candidate = backends
    text = TABLE.format(legacy=legacy.url, svc=candidate.url)
    with open_store(tmp_path / "parity.db", background=False) as store:
        rec = _recorded(store, legacy, text)
        summary = _replay(store, rec, text, writes=True, key=KEY)
        assert summary.compared == 3 and summary.skipped == {}, summary
        assert [p for m, p, _ in candidate.seen if m == "POST"] == ["/api/items/3"]
        assert not [p for m, p, _ in legacy.seen if m == "POST"]  # legacy never sees a replayed write
        assert summary.differing[0][2] == "/api/items/2" and len(summary.differing) == 1, summary  # the write matched
        store.flush()
        assert store.route_stats("items")[0].noise_samples == 2  # the two reads', none for the write


def test_legacy_down_means_recorded_answers_and_no_noise_at_all(backends: tuple[Backend, Backend],
                                                                tmp_path: Path) -> None:
    legacy, candidate = backends
    with open_store(tmp_path / "parity.db", background=False) as store:
        rec = _recorded(store, legacy, TABLE.format(legacy=legacy.url, svc=candidate.url))
        legacy.row["price"] = "2.50"
        gone = TABLE.format(legacy=f"http://127.0.0.1:{free_port()}", svc=candidate.url)  # nothing listens
        summary = _replay(store, rec, gone)
        assert summary.noise_skipped and "recorded answers" in summary.noise_skipped, summary
        assert summary.compared == 2 and summary.differ == 2, summary  # the moved price shows: said once above
        assert "$.Price" in summary.differing[0][3]
        store.flush()
        assert store.route_stats("items")[0].noise_samples == 0
        assert not any(_noise(store).values()) and store.noise_fields("items") == []
