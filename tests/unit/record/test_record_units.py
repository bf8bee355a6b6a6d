"""Recording's pure parts: route-table validation, redaction with stable placeholders, signatures, the body
limit, bounded storage whose case counts survive pruning, and placeholders filled back at replay."""
from __future__ import annotations

import gzip
import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from proxy.parity.redact import StableRedactor, restore
from proxy.parity.store import ParityStore, open_store
from proxy.record.capture import Captured, body_bytes, capture, redactor_for
from proxy.record.config import RecordConfig
from proxy.record.shape import default_route
from proxy.record.storage import RecordingStore
from proxy.record.writer import Writer
from proxy.table import TableError, parse_table
from tests.unit.parity.test_parity_store_pg import pg_url

TABLE = """\
upstreams:
  legacy: {url: "http://127.0.0.1:5000"}
  svc: {url: "http://127.0.0.1:5001"}
default: legacy
features:
  items:
    target: svc
    routes: [{methods: [GET, POST], path: "/api/items/{id}"}]
    record:
      rate: 0.5
      body_limit: 64
      redact: {json_paths: [$.password], query: [token]}
"""


def _captured(path: str = "/api/items/1", body: bytes = b"", method: str = "GET", cookie: str = "session=abc",
              answer: bytes = b'{"id": 1}', route: str = "/api/items/{id}") -> Captured:
    return Captured("items", route, method, path, ((b"Cookie", cookie.encode()), (b"Content-Type",
                    b"application/json")), body, len(body), 200, ((b"Set-Cookie", b"session=new"),
                                                                  (b"Content-Type", b"application/json")),
                    answer, len(answer), 3.0, time.time())


def test_record_section_validates_with_lines() -> None:
    table = parse_table(TABLE)
    assert table.features["items"].record == RecordConfig(rate=0.5, body_limit=64, redact={
        "json_paths": ["$.password"], "query": ["token"]})
    assert table.record is None
    with pytest.raises(TableError) as err:
        parse_table(TABLE.replace("rate: 0.5", "rate: 5").replace("[$.password]", "[password]"))
    text = str(err.value)
    assert "<string>:10: features.items.record.rate = 5 is out of range" in text
    assert "<string>:12: record.redact.json_paths: 'password' is not a JSON path. Fix: start it with '$'" in text
    with pytest.raises(TableError, match="unknown key 'rat'"):
        parse_table(TABLE.replace("rate: 0.5", "rat: 0.5"))


def test_placeholders_are_stable_within_a_recording_and_differ_across() -> None:
    config = parse_table(TABLE).features["items"].record
    assert config is not None
    one, other = redactor_for(config, b"salt-one"), redactor_for(config, b"salt-two")
    hits: set[str] = set()
    a, _, _ = capture(_captured(cookie="session=alice"), config, one, hits)
    b, _, _ = capture(_captured(cookie="session=alice", path="/api/items/2"), config, one, hits)
    c, _, _ = capture(_captured(cookie="session=bob"), config, one, hits)
    d, _, _ = capture(_captured(cookie="session=alice"), config, other, hits)

    def cookie(row: tuple) -> str:
        return {k.lower(): v for k, v in json.loads(row[10])["headers"]}["cookie"]
    assert cookie(a) == cookie(b) != cookie(c) and cookie(a) != cookie(d)
    assert "alice" not in json.dumps([a, b, c, d]) and "session=new" not in json.dumps(a)


def test_body_paths_and_query_are_redacted_and_rules_counted() -> None:
    config = parse_table(TABLE).features["items"].record
    assert config is not None
    hits: set[str] = set()
    row, _, _ = capture(_captured("/api/items/1?token=t0p&x=1", b'{"user": "al", "password": "hunter2"}', "POST"),
                        config, redactor_for(config, b"s"), hits)
    assert "hunter2" not in json.dumps(row) and "t0p" not in row[5] and "x=1" in row[5]
    assert hits == {"json:$.password", "query:token"}
    assert json.loads(json.loads(row[10])["body"])["user"] == "al"


def test_signature_ignores_values_but_not_shape() -> None:
    config = RecordConfig()
    r = redactor_for(config, b"s")
    key = lambda c: capture(c, config, r, set())[1][1]
    same = [key(_captured("/api/items/1?q=a", b'{"qty": 1}', "POST")), key(_captured("/api/items/9?q=b",
                                                                                      b'{"qty": 7}', "POST"))]
    assert same[0] == same[1]
    assert key(_captured("/api/items/1?q=a&page=2", b'{"qty": 1}', "POST")) != same[0]
    assert key(_captured("/api/items/1?q=a", b'{"qty": "1"}', "POST")) != same[0]
    assert default_route("/orders/12/lines/3f2b6a9e-1111-2222-3333-444455556666?x=1") == "/orders/{id}/lines/{id}"


def test_bad_bodies_are_kept_marked() -> None:
    config = RecordConfig(body_limit=8)
    r = redactor_for(config, b"s")
    binary = bytes(range(256))[:8]
    row, _, case = capture(_captured(body=binary, method="POST"), config, r, set())
    req = json.loads(row[10])
    assert req["body_encoding"] == "base64" and body_bytes(req) == binary
    long = _captured(body=b"not json at all, long", method="POST")._replace(body_size=200)
    row, _, case = capture(long, config, r, set())
    req = json.loads(row[10])
    assert req["body_truncated"] and req["body_size"] == 200 and case[3] == "truncated" and row[8] == 1
    row, _, case = capture(_captured(body=b"{not json", method="POST"), RecordConfig(), r, set())
    assert json.loads(row[10])["body_kind"] == "text" and case[3] == "text"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ParityStore]:
    """A fresh parity store: a SQLite file, or a unique PostgreSQL schema dropped afterwards."""
    if request.param == "sqlite":
        yield open_store(tmp_path / "parity.db", background=False)
        return
    from proxy.shared_store import store_for

    url = pg_url()
    yield open_store(url, background=False)
    store_for(url).drop()


def test_store_is_bounded_and_case_counts_survive_pruning(store: ParityStore) -> None:
    rec = RecordingStore(store)
    writer = Writer(rec)
    writer.table = parse_table(TABLE.replace("body_limit: 64", "body_limit: 64\n      max_mb: 0.01"))
    for i in range(200):
        writer.add(_captured(f"/api/items/{i}", answer=b'{"id": %d, "pad": "%s"}' % (i, b"x" * 40)))
    writer.flush()
    kept = rec.recordings("items", limit=1000)
    assert 0 < len(kept) < 200 and sum(r.size for r in kept) <= 0.01 * 1024 * 1024
    assert kept[-1].path == "/api/items/199"  # the newest are kept
    (case,) = rec.cases("items")
    assert case.count == 200 and case.weight == 1.0 and case.representative == kept[-1].id
    assert rec.prune("items") == len(kept) and rec.cases("items")[0].count == 200
    status = rec.status()[0]
    assert status["kept"] == 0 and status["recorded"] == 200
    store.close()


def test_restore_fills_tagged_then_plain_names_and_reports_missing() -> None:
    token = StableRedactor.of(b"s").token("Cookie", "session=x")
    env = token[2:-1]
    assert restore(token, {env: "a=1"}) == ("a=1", [])
    assert restore(token, {"STRANGLER_REPLAY_COOKIE": "b=2"}) == ("b=2", [])
    assert restore(f"Bearer {token}", {}) == (f"Bearer {token}", [env])
    assert restore('{"p": "' + token + '"}', {env: 'q"x'}, lambda v: json.dumps(v)[1:-1])[0] == '{"p": "q\\"x"}'


def test_a_compressed_answer_is_stored_decoded_and_a_cut_one_is_not_kept() -> None:
    config = RecordConfig(body_limit=1000)
    body = gzip.compress(b'{"a": 1}')
    gz = _captured()._replace(response_headers=((b"Content-Encoding", b"gzip"),), response_body=body,
                              response_size=len(body))
    resp = json.loads(capture(gz, config, redactor_for(config, b"s"), set())[0][11])
    assert resp["body"] == '{"a": 1}' and not resp["body_truncated"] and resp["headers"] == []
    cut = gz._replace(response_body=body[:5], response_size=len(body))
    resp = json.loads(capture(cut, config, redactor_for(config, b"s"), set())[0][11])
    assert resp["body"] == "" and resp["body_truncated"] and resp["body_size"] == len(body)
