"""Dashboard auth: login form -> session cookie, CSRF on the flip, logout revokes, bad tokens throttled."""
from __future__ import annotations

import time
from http.cookies import SimpleCookie

import pytest
from dashboard_harness import TOKEN, login
from starlette.testclient import TestClient

from proxy.admin import create_admin_app
from proxy.dashboard.sessions import COOKIE_NAME, Sessions
from proxy.ledger import default_ledger_path, read_records

FLIP = {"feature": "items", "to": "shadow", "reason": "from the page"}


def test_without_a_session_the_page_redirects_to_login_and_data_is_401(client):
    r = client.get("/ui")
    assert r.status_code == 303 and r.headers["location"] == "/ui/login"
    assert client.get("/").headers["location"] == "/ui"
    assert client.get("/ui/data").status_code == 401
    form = client.get("/ui/login")
    assert form.status_code == 200 and 'name="token"' in form.text and 'type="password"' in form.text
    assert 'method="post"' in form.text  # the token travels in a POST body, never in a URL


def test_bad_token_is_refused_without_a_cookie(client):
    r = client.post("/ui/login", data={"token": "not-the-token-but-long-enough"})
    assert r.status_code == 401 and "not the admin token" in r.text
    assert COOKIE_NAME not in r.headers.get("set-cookie", "")
    assert client.get("/ui/data").status_code == 401
    assert client.post("/ui/login", data={}).status_code == 401


def test_login_sets_an_httponly_samesite_strict_cookie_that_is_not_the_token(client):
    r = client.post("/ui/login", data={"token": TOKEN})
    assert r.status_code == 303 and r.headers["location"] == "/ui"
    raw = r.headers["set-cookie"]
    cookie = SimpleCookie(raw)[COOKIE_NAME]
    assert cookie["httponly"] and cookie["samesite"].lower() == "strict" and cookie["path"] == "/"
    assert TOKEN not in raw and len(cookie.value) >= 40
    page = client.get("/ui")
    assert page.status_code == 200 and TOKEN not in page.text
    assert client.get("/ui/data").status_code == 200


def test_bearer_token_also_reads_the_data_but_not_the_page(client):
    auth = {"Authorization": f"Bearer {TOKEN}"}
    assert client.get("/ui/data", headers=auth).status_code == 200
    assert client.get("/ui", headers=auth).status_code == 303  # the page itself is for browser sessions


def test_flip_from_a_session_needs_the_csrf_header(client, facade):
    csrf = login(client)
    assert client.post("/flip", json=FLIP).status_code == 403
    assert client.post("/flip", json=FLIP, headers={"X-CSRF-Token": "forged" * 8}).status_code == 403
    evil = client.post("/flip", json=FLIP, headers={"X-CSRF-Token": csrf, "Origin": "http://evil.example"})
    assert evil.status_code == 403 and evil.json()["error"] == "csrf"
    cross = client.post("/flip", json=FLIP, headers={"X-CSRF-Token": csrf, "Sec-Fetch-Site": "cross-site"})
    assert cross.status_code == 403
    assert facade.state.current.table.features["items"].state.value == "legacy"  # nothing flipped so far
    ok = client.post("/flip", json=FLIP, headers={"X-CSRF-Token": csrf, "Origin": "http://testserver"})
    assert ok.status_code == 200, ok.text
    assert facade.state.current.table.features["items"].state.value == "shadow"
    last = read_records(default_ledger_path())[-1]
    assert last["actor"] == "dashboard" and last["reason"] == "from the page" and last["to_state"] == "shadow"


def test_a_refused_flip_from_the_page_returns_its_reasons(client):
    csrf = login(client)
    r = client.post("/flip", json={"feature": "items", "to": "retired", "reason": "too early"},
                    headers={"X-CSRF-Token": csrf})
    assert r.status_code == 409
    assert any("flip 'items' to 'new' first" in reason for reason in r.json()["reasons"])


def test_csrf_token_of_one_session_does_not_work_for_another(facade, sessions):
    app = create_admin_app(facade.state, TOKEN, sessions=sessions)
    with TestClient(app, follow_redirects=False) as alice, TestClient(app, follow_redirects=False) as bob:
        alice_csrf = login(alice)
        login(bob)
        assert bob.post("/flip", json=FLIP, headers={"X-CSRF-Token": alice_csrf}).status_code == 403


def test_logout_needs_csrf_and_revokes_the_session(client):
    csrf = login(client)
    old_cookie = client.cookies.get(COOKIE_NAME)
    assert client.post("/ui/logout", data={"csrf": "wrong"}).status_code == 403
    r = client.post("/ui/logout", data={"csrf": csrf})
    assert r.status_code == 303 and r.headers["location"] == "/ui/login"
    assert client.get("/ui/data").status_code == 401
    client.cookies.set(COOKIE_NAME, old_cookie)  # replaying the old cookie does not bring the session back
    assert client.get("/ui/data").status_code == 401
    assert client.post("/flip", json=FLIP, headers={"X-CSRF-Token": csrf}).status_code == 401


def test_cross_site_login_is_refused(client):
    r = client.post("/ui/login", data={"token": TOKEN}, headers={"Origin": "http://evil.example"})
    assert r.status_code == 403 and COOKIE_NAME not in r.headers.get("set-cookie", "")


def test_wrong_tokens_are_slowed_down_more_and_more_then_forgotten():
    now = [1000.0]
    sessions = Sessions(TOKEN, base_delay_s=0.25, max_delay_s=4.0, failure_window_s=60, clock=lambda: now[0])
    delays = []
    for _ in range(8):
        delays.append(sessions.login_failed("10.0.0.9"))
        sessions.answered("10.0.0.9")
        now[0] += 1
    assert delays == [0.25, 0.5, 1.0, 2.0, 4.0, 4.0, 4.0, 4.0]  # doubling, bounded
    assert sessions.login_failed("10.0.0.7") == 0.25  # per address
    now[0] += 61
    assert sessions.login_failed("10.0.0.9") == 0.25  # old failures are forgotten


def test_wrong_attempts_waiting_at_once_are_bounded_per_address():
    sessions = Sessions(TOKEN, max_waiting=2)
    assert sessions.login_failed("a") is not None and sessions.login_failed("a") is not None
    assert sessions.login_failed("a") is None  # a third one while two are held: 429 at once
    assert sessions.login_failed("b") is not None
    sessions.answered("a")
    assert sessions.login_failed("a") is not None


def test_many_wrong_logins_from_anyone_never_lock_out_the_right_token(facade):
    sessions = Sessions(TOKEN, base_delay_s=0.001, max_delay_s=0.002, max_waiting=3)
    with TestClient(create_admin_app(facade.state, TOKEN, sessions=sessions), follow_redirects=False) as c:
        for _ in range(30):  # the old policy refused everything (429) after 10 of these
            assert c.post("/ui/login", data={"token": "x" * 20}).status_code == 401
        r = c.post("/ui/login", data={"token": TOKEN})
        assert r.status_code == 303 and COOKIE_NAME in r.headers["set-cookie"]
        for _ in range(3):  # the same address now has as many wrong attempts held as allowed...
            sessions.login_failed("testclient")
        assert c.post("/ui/login", data={"token": "y" * 20}).status_code == 429  # ...so a wrong one is refused
        assert c.post("/ui/login", data={"token": TOKEN}).status_code == 303  # and the right one still is not


def test_a_wrong_token_is_answered_only_after_its_delay(facade):
    sessions = Sessions(TOKEN, base_delay_s=0.1, max_delay_s=0.4)
    with TestClient(create_admin_app(facade.state, TOKEN, sessions=sessions), follow_redirects=False) as c:
        for expected in (0.1, 0.2, 0.4, 0.4):
            started = time.monotonic()
            assert c.post("/ui/login", data={"token": "z" * 20}).status_code == 401
            assert time.monotonic() - started >= expected * 0.9  # a lower bound (less timer slack): holds under load


def test_sessions_expire_when_idle_or_too_old():
    now = [1000.0]
    sessions = Sessions(TOKEN, idle_s=60, max_age_s=300, clock=lambda: now[0])
    cookie, _ = sessions.create()
    now[0] += 59
    assert sessions.get(cookie) is not None
    now[0] += 61
    assert sessions.get(cookie) is None
    cookie, _ = sessions.create()
    for _ in range(6):
        now[0] += 55
        alive = sessions.get(cookie)
    assert alive is None  # kept busy, but older than max_age_s
    assert sessions.get("") is None and sessions.get("unknown") is None


def test_session_table_is_bounded():
    sessions = Sessions(TOKEN, max_sessions=3)
    cookies = [sessions.create()[0] for _ in range(5)]
    assert len(sessions) == 3
    assert sessions.get(cookies[0]) is None and sessions.get(cookies[-1]) is not None


@pytest.mark.parametrize("path", ["/ui/login", "/ui/static/app.js", "/ui/static/app.css"])
def test_public_assets_are_served_with_a_strict_csp(client, path):
    r = client.get(path)
    assert r.status_code == 200
    csp = r.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "script-src 'self'" in csp and "unsafe" not in csp
    assert "frame-ancestors 'none'" in csp and r.headers["x-content-type-options"] == "nosniff"
    assert client.get("/ui/static/../admin.py").status_code == 404
