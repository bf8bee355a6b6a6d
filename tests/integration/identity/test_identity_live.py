"""Remote identity through real processes (issue 24): a third-party Flask-Login monolith (tests/fixtures/
recipebox_flask.py, RemoteIdentity in two lines), its FastAPI twin (CurrentUser), mitmdump running the façade.
Users log in on the monolith through the façade; their logged-in reads keep working, as themselves, with the
feature in legacy, canary 50 % and new; an uncooperative identity source makes the route 503, never anonymous;
a forged client identity header is dropped."""
from __future__ import annotations

import concurrent.futures
import json
import sqlite3
import time

import httpx
import pytest
from strangler_app import identity

from tests.integration.identity.conftest import IDENTITY_KEY, Stack

pytestmark = pytest.mark.integration
USERS = {"1": "alice", "2": "bob", "3": "carol", "4": "dave", "5": "erin", "6": "frank"}


def login(stack: Stack, username: str) -> httpx.Client:
    client = httpx.Client(base_url=stack.facade, timeout=15)
    got = client.post("/login", json={"username": username, "password": f"pw-{username}"})
    assert got.status_code == 200, got.text
    assert "session" in client.cookies
    return client


def flip(stack: Stack, state: str, percent: int = 0, pantry_source: str = "closer") -> None:
    """Rewrite the table and wait (bounded) until the façade serves from it."""
    stack.set_table(state, percent, pantry_source)
    expected = {"legacy": {"legacy"}, "shadow": {"legacy"}, "canary": {"legacy", "twin"}, "new": {"twin"}}[state]
    probe = login(stack, "alice")
    deadline = time.monotonic() + 20
    seen: set[str] = set()
    while time.monotonic() < deadline:
        for n in range(20):
            seen.add(probe.get("/api/recipes/mine", headers={"X-Strangler-Cohort": f"probe-{n}"})
                     .headers.get("X-Served-By", ""))
        if seen == expected:
            return
        seen.clear()
        time.sleep(0.2)
    raise AssertionError(f"the façade did not serve {state} from {expected} in time (saw {seen})")


def reads(client: httpx.Client, user_id: str, n: int, tag: str) -> list[tuple[int, str, str | None]]:
    """n logged-in reads, each its own cohort (so canary spreads them): (status, served by, owner)."""
    out = []
    for i in range(n):
        got = client.get("/api/recipes/mine", headers={"X-Strangler-Cohort": f"{tag}-{user_id}-{i}"})
        owner = got.json().get("owner") if got.status_code == 200 else None
        out.append((got.status_code, got.headers.get("X-Served-By", ""), owner))
    return out


@pytest.mark.parametrize(("state", "percent", "sides"), [("legacy", 0, {"legacy"}), ("canary", 50, {"legacy", "twin"}),
                                                          ("new", 0, {"twin"})])
def test_logged_in_reads_stay_logged_in(stack: Stack, state: str, percent: int, sides: set[str]) -> None:
    flip(stack, state, percent)
    clients = {uid: login(stack, name) for uid, name in USERS.items()}
    results = {uid: reads(c, uid, 20, state) for uid, c in clients.items()}
    failures = [(uid, r) for uid, rs in results.items() for r in rs if r[0] != 200 or r[2] != uid]
    assert failures == [], f"auth failures or another user's data in {state}: {failures[:5]}"
    served = {r[1] for rs in results.values() for r in rs}
    assert served == sides
    if state == "canary":  # both sides served logged-in reads, each a real share
        counts = {side: sum(r[1] == side for rs in results.values() for r in rs) for side in sides}
        assert min(counts.values()) >= 10, counts


def test_concurrent_users_never_get_each_others_identity(stack: Stack) -> None:
    flip(stack, "new")
    clients = {uid: login(stack, name) for uid, name in USERS.items()}
    with concurrent.futures.ThreadPoolExecutor(max_workers=6) as pool:
        futures = {uid: pool.submit(reads, c, uid, 30, "race") for uid, c in clients.items()}
        results = {uid: f.result(timeout=120) for uid, f in futures.items()}
    wrong = [(uid, r) for uid, rs in results.items() for r in rs if r != (200, "twin", uid)]
    assert wrong == []


def test_logout_and_anonymous_are_refused_by_the_service_not_served(stack: Stack) -> None:
    flip(stack, "new")
    anonymous = httpx.get(f"{stack.facade}/api/recipes/mine", timeout=15)
    assert anonymous.status_code == 401 and anonymous.json()["title"] == "login required"
    bob = login(stack, "bob")
    assert bob.get("/api/recipes/mine").json()["owner"] == "2"
    assert bob.post("/logout").status_code == 200
    after = bob.get("/api/recipes/mine")
    assert after.status_code == 401, after.text


def test_forged_client_identity_header_is_dropped(stack: Stack) -> None:
    flip(stack, "new")
    forged_by_key = identity.sign(IDENTITY_KEY, identity.Principal("1", "Alice"), method="GET",
                                  path="/api/recipes/mine")  # even a validly signed one: only the façade states it
    for value in (forged_by_key, "v1.e30.forged"):
        got = httpx.get(f"{stack.facade}/api/recipes/mine", headers={identity.HEADER: value}, timeout=15)
        assert got.status_code == 401, got.text  # anonymous, never Alice
    carol = login(stack, "carol")
    got = carol.get("/api/recipes/mine", headers={identity.HEADER: forged_by_key})
    assert got.status_code == 200 and got.json()["owner"] == "3"
    endpoint = carol.post("/__strangler/identity", headers={identity.REQUEST_HEADER: identity.request_proof(
        IDENTITY_KEY)})
    assert endpoint.status_code == 404  # the monolith's endpoint is never reachable through the façade


@pytest.mark.parametrize("source", ["closer", "slow"])
def test_uncooperative_source_fails_closed(stack: Stack, source: str) -> None:
    flip(stack, "new", pantry_source=source)
    erin = login(stack, "erin")
    deadline = time.monotonic() + 20
    while True:  # the pantry's source follows the table; bounded wait for the reload
        got = erin.get("/api/pantry/mine")
        if (got.status_code == 503 and source in got.text) or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert got.status_code == 503, got.text
    body = got.json()
    assert body["error"] == "identity_unavailable" and "Fix:" in body["message"] and body["source"] == source
    assert got.headers["X-Served-By"] == "facade"
    assert "session" not in got.text
    assert erin.get("/api/recipes/mine").json()["owner"] == "5"  # another feature's source is fine


def test_shadow_copies_compare_as_the_same_user(stack: Stack) -> None:
    """In shadow the client is served by legacy; the copy to the twin carries its own signed identity (no
    cookie), so parity compares each logged-in read as the same user: equal, never identity_rejected."""
    flip(stack, "shadow")
    db = stack.tmp / "parity.db"

    def causes() -> list[str]:
        if not db.exists():
            return []
        with sqlite3.connect(db) as conn:
            rows = conn.execute("SELECT detail FROM samples WHERE feature = 'recipes'").fetchall()
        return [json.loads(r[0]).get("cause", "") for r in rows if r[0]]

    before = len(causes())
    clients = {uid: login(stack, name) for uid, name in USERS.items()}
    for uid, client in clients.items():
        assert all(r[:3:2] == (200, uid) for r in reads(client, uid, 5, "shadow"))
    deadline = time.monotonic() + 30
    while len(causes()) < before + 30 and time.monotonic() < deadline:
        time.sleep(0.2)
    recent = causes()[before:]
    assert len(recent) >= 30, recent
    assert set(recent) == {"equal"}, recent
