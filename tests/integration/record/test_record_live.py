"""Recording at the façade with real processes: the foreign recipe box behind mitmdump, `record:` on."""
from __future__ import annotations

import json
import sqlite3

import httpx

from tests.integration.record.conftest import BODY_LIMIT, Stack, wait_for


def _rows(stack: Stack, sql: str, args: tuple = ()) -> list[sqlite3.Row]:
    if not stack.store.exists():  # the writer creates it with its first batch
        return []
    db = sqlite3.connect(stack.store)
    db.row_factory = sqlite3.Row
    try:
        return db.execute(sql, args).fetchall()
    except sqlite3.OperationalError:  # created, schema not written yet
        return []
    finally:
        db.close()


def test_records_redacted_exchanges_with_stable_placeholders(stack: Stack) -> None:
    with httpx.Client(base_url=stack.facade, timeout=10) as alice, httpx.Client(base_url=stack.facade,
                                                                                 timeout=10) as bob:
        assert alice.post("/login", json={"username": "alice", "password": "pw-alice"}).status_code == 200
        assert bob.post("/login", json={"username": "bob", "password": "pw-bob"}).status_code == 200
        for client in (alice, alice, bob):
            assert client.get("/api/pantry/mine").status_code == 200
        for rid in (101, 102, 103):
            assert alice.get(f"/api/recipes/{rid}?token=s3cret-{rid}").status_code == 200
    wait_for(lambda: len(_rows(stack, "SELECT id FROM recordings")) >= 8, "8 recordings stored")
    text = "".join(f.read_bytes().decode("latin-1") for f in stack.store.parent.glob("parity.db*"))  # WAL too
    for secret in ("pw-alice", "pw-bob", "s3cret-101", "session="):
        assert secret not in text, f"{secret} reached the store"
    pantry = _rows(stack, "SELECT request FROM recordings WHERE route = '/api/pantry/mine' ORDER BY id")
    cookies = [{k.lower(): v for k, v in json.loads(r["request"])["headers"]}["cookie"] for r in pantry]
    assert cookies[0] == cookies[1] != cookies[2], cookies  # one session = one placeholder, another = another
    assert cookies[0].startswith("${STRANGLER_REPLAY_COOKIE__")
    login = _rows(stack, "SELECT * FROM recordings WHERE feature = '-' AND route = '/login'")
    assert len(login) == 2 and all(json.loads(r["request"])["body"].count("${STRANGLER_REPLAY_PASSWORD__") == 1
                                   for r in login)
    setcookie = [h for h in json.loads(login[0]["response"])["headers"] if h[0].lower() == "set-cookie"]
    assert setcookie and setcookie[0][1].startswith("${STRANGLER_REPLAY_SET_COOKIE__")
    cases = _rows(stack, "SELECT route, count FROM record_cases WHERE feature = 'recipes' ORDER BY route")
    assert [(r["route"], r["count"]) for r in cases] == [("/api/pantry/mine", 3), ("/api/recipes/{rid}", 3)]
    assert stack.metric("strangler_record_total", feature="recipes") >= 6


def test_over_limit_and_binary_bodies_are_kept_marked(stack: Stack) -> None:
    big = {"note": "x" * (BODY_LIMIT * 3)}
    binary = bytes(range(256))
    with httpx.Client(base_url=stack.facade, timeout=10) as client:
        client.post("/upload", content=binary, headers={"Content-Type": "application/octet-stream"})
        client.post("/big", json=big)
    rows = wait_for(lambda: [] if len(found := _rows(
        stack, "SELECT * FROM recordings WHERE path IN ('/upload', '/big')")) < 2 else found, "the two bodies recorded")
    request = {r["path"]: json.loads(r["request"]) for r in rows}
    assert request["/big"]["body_truncated"] and request["/big"]["body_size"] > BODY_LIMIT
    assert request["/big"]["body"] == ""  # a cut JSON body cannot be redacted ($.password): nothing of it is kept
    assert request["/upload"]["body_encoding"] == "base64" and not request["/upload"]["body_truncated"]
