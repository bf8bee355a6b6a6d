"""Remote identity in the façade (proxy/addons/identity.py) with the real addons in a mitmproxy test master and
a REAL monolith: a Flask app with Flask-Login and strangler_app's RemoteIdentity served on a loopback port
(werkzeug, in a thread). Also the route table's `identity` field, a shadow copy's headers and the parity cause.
"""
from __future__ import annotations

import asyncio
import logging
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import flask
import flask_login
import pytest
from mitmproxy import exceptions, hooks
from mitmproxy.test import taddons, tflow
from strangler_app.flask_identity import RemoteIdentity
from strangler_app.identity import HEADER, KEY_ENV, IdentityError, Principal, ReplayGuard, verify
from werkzeug.serving import make_server

from proxy.addons.guard import Guard
from proxy.addons.identity import Identity
from proxy.addons.pipeline import Pipeline
from proxy.addons.routing import META, Router
from proxy.addons.state import FacadeState
from proxy.identity import IDENTITY_META, Carried, IdentityCache, clears_cookie, copy_headers
from proxy.parity.causes import Cause, Classified, describe, identity_cause
from proxy.table import TableError, parse_table

KEY = "facade-identity-test-key-0123456789abcdef"
SVC = "http://127.0.0.1:8101"


# ---------------------------------------------------------------------------------------------- the monolith
class Monolith:
    """A Flask app with Flask-Login and RemoteIdentity on a real loopback port; counts identity calls."""

    def __init__(self, *, delay_s: float = 0.0, fail: bool = False, key: str = KEY) -> None:
        app = flask.Flask("recipes-monolith")
        app.secret_key = "monolith-secret"
        manager = flask_login.LoginManager(app)
        self.calls = 0
        self.delay_s, self.fail = delay_s, fail

        class User(flask_login.UserMixin):
            def __init__(self, uid: str) -> None:
                self.id, self.name = uid, f"cook {uid}"

        manager.user_loader(lambda uid: User(uid))

        @app.post("/login/<uid>")
        def login(uid: str):
            flask_login.login_user(User(uid))
            flask.session["locale"], flask.session["cart_id"] = "fr", f"cart-{uid}"
            return "ok"

        def identify():
            self.calls += 1
            if self.delay_s:
                time.sleep(self.delay_s)
            if self.fail:
                raise RuntimeError("session store down")
            from strangler_app.flask_identity import default_identify

            return default_identify()

        RemoteIdentity(app, identify=identify, key=key, session_keys=("locale", "cart_id"))
        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no access lines into a closed test loop
        self.app = app
        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.port = self.server.server_port
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def cookie_of(self, uid: str) -> str:
        client = self.app.test_client()
        client.post(f"/login/{uid}")
        return f"session={client.get_cookie('session').value}"

    def close(self) -> None:
        self.server.shutdown()
        self.thread.join(timeout=5)


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def table_text(legacy_port: int, state: str = "new", identity_cfg: str = "remote", timeout_s: float = 5.0) -> str:
    return f"""\
upstreams:
  legacy: {{url: "http://127.0.0.1:{legacy_port}", timeout_s: {timeout_s}}}
  svc: {{url: "{SVC}"}}
default: legacy
features:
  recipes:
    target: svc
    state: {state}
    canary_percent: {50 if state == "canary" else 0}
    identity: {identity_cfg}
    routes:
      - {{methods: [GET, POST], path: "/api/recipes/{{id}}"}}
  tags:
    target: svc
    state: new
    routes:
      - {{methods: [GET], path: "/api/tags"}}
"""


class Recorder:
    """A part after Identity: sees each request as the parts after identity do (after any pause)."""

    def __init__(self) -> None:
        self.seen: list[str | None] = []

    def request(self, flow) -> None:
        self.seen.append(flow.request.headers.get(HEADER))


class Facade:
    def __init__(self, tctx, routes: Path) -> None:
        self.state = FacadeState()
        self.identity, self.recorder = Identity(self.state), Recorder()
        self.pipeline = Pipeline(self.state, Guard(self.state), Router(self.state), self.identity, self.recorder)
        tctx.master.addons.register(self.pipeline)
        tctx.options.update(strangler_routes=str(routes), mode=["reverse:http://127.0.0.1:5000@8080"])
        tctx.master.addons.invoke_addon_sync(self.pipeline, hooks.ConfigureHook(set(tctx.options.keys())))

    async def send(self, method: str = "GET", path: str = "/api/recipes/3", headers: dict | None = None):
        f = tflow.tflow()
        f.request.method, f.request.path = method, path
        f.request.headers.clear()
        f.request.headers["Host"] = "example.test"
        for k, v in (headers or {}).items():
            f.request.headers[k] = v
        f.response = None
        self.pipeline.request(f)
        for _ in range(400):  # bounded: a paused flow resumes when its lookup ends
            if not f.intercepted:
                break
            await asyncio.sleep(0.01)
        assert not f.intercepted, "the flow was never resumed"
        return f


@pytest.fixture
def monolith() -> Iterator[Monolith]:
    m = Monolith()
    yield m
    m.close()


def run(routes_text: str, tmp_path: Path, body, monkeypatch, key: str | None = KEY):
    """Run `body(facade)` inside a running loop with the façade configured on `routes_text`."""
    if key is None:
        monkeypatch.delenv(KEY_ENV, raising=False)
    else:
        monkeypatch.setenv(KEY_ENV, key)
    routes = tmp_path / "routes.yaml"
    routes.write_text(routes_text)

    async def main():
        with taddons.context() as tctx:
            facade = Facade(tctx, routes)
            await facade.pipeline.running()
            try:
                return await body(facade)
            finally:
                await facade.identity.done()

    return asyncio.run(main())


def outcome(facade, name: str, feature: str = "recipes") -> float | None:
    """strangler_identity_total{feature, outcome}, as a scrape of the façade's registry reads it."""
    return facade.state.metrics.registry.get_sample_value("strangler_identity_total",
                                                          {"feature": feature, "outcome": name})


def principal_of(flow) -> Principal:
    return verify(KEY, flow.request.headers[HEADER], method=flow.request.method, path=flow.request.path,
                  guard=ReplayGuard())


# ---------------------------------------------------------------------------------------------- the addon
def test_logged_in_user_is_signed_for_the_target_without_the_cookie(monolith, tmp_path, monkeypatch):
    cookie = monolith.cookie_of("42")

    async def body(facade):
        f = await facade.send(headers={"Cookie": cookie, "Authorization": "Bearer legacy-token"})
        assert f.response is None and f.request.port == 8101
        got = principal_of(f)
        assert (got.user_id, got.name) == ("42", "cook 42")
        assert "Cookie" not in f.request.headers and "Authorization" not in f.request.headers
        assert isinstance(f.metadata[IDENTITY_META], Carried)
        assert {k.lower() for k, _ in f.metadata[IDENTITY_META].removed} == {"cookie", "authorization"}
        assert facade.recorder.seen[-1] == f.request.headers[HEADER]  # the later parts ran after the pause
        with pytest.raises(IdentityError):  # bound to this request: not valid for another path
            verify(KEY, f.request.headers[HEADER], method="GET", path="/api/recipes/4", guard=ReplayGuard())

    run(table_text(monolith.port), tmp_path, body, monkeypatch)


def test_legacy_keeps_the_cookie_and_forward_credentials(monolith, tmp_path, monkeypatch):
    cookie = monolith.cookie_of("7")

    async def legacy(facade):
        f = await facade.send(headers={"Cookie": cookie})
        assert f.request.port == monolith.port and f.request.headers["Cookie"] == cookie
        assert principal_of(f).user_id == "7"

    run(table_text(monolith.port, state="legacy"), tmp_path, legacy, monkeypatch)

    async def forwarded(facade):
        f = await facade.send(headers={"Cookie": cookie})
        assert f.request.port == 8101 and f.request.headers["Cookie"] == cookie

    run(table_text(monolith.port, identity_cfg="{mode: remote, forward_credentials: true}"), tmp_path,
        forwarded, monkeypatch)


def test_cache_per_credential_and_concurrent_users_never_swap(monolith, tmp_path, monkeypatch):
    cookies = {uid: monolith.cookie_of(uid) for uid in ("1", "2", "3", "4")}

    async def body(facade):
        flows = await asyncio.gather(*(facade.send(headers={"Cookie": cookies[uid]}) for uid in cookies
                                       for _ in range(3)))
        users = [principal_of(f).user_id for f in flows]
        assert users == [uid for uid in cookies for _ in range(3)]
        assert monolith.calls == 4  # concurrent misses of one credential share one lookup
        again = await facade.send(headers={"Cookie": cookies["2"]})
        assert principal_of(again).user_id == "2" and monolith.calls == 4  # warm cache: no round trip
        assert (outcome(facade, "resolved"), outcome(facade, "cached"), outcome(facade, "failed")) == (12, 1, None)

    run(table_text(monolith.port), tmp_path, body, monkeypatch)


def test_remote_session_carries_only_the_features_keys(monolith, tmp_path, monkeypatch):
    cookie = monolith.cookie_of("8")

    async def body(facade):
        assert principal_of(await facade.send(headers={"Cookie": cookie})).session == {"locale": "fr"}

    run(table_text(monolith.port, identity_cfg="{mode: remote, session_keys: [locale, theme]}"), tmp_path, body,
        monkeypatch)

    async def none_listed(facade):
        assert principal_of(await facade.send(headers={"Cookie": cookie})).session == {}

    run(table_text(monolith.port), tmp_path, none_listed, monkeypatch)


def test_no_credential_is_anonymous_without_asking(monolith, tmp_path, monkeypatch):
    async def body(facade):
        f = await facade.send()
        assert principal_of(f).anonymous and monolith.calls == 0 and f.response is None
        assert outcome(facade, "anonymous") == 1

    run(table_text(monolith.port), tmp_path, body, monkeypatch)


def test_client_identity_header_is_stripped_everywhere(monolith, tmp_path, monkeypatch):
    forged = "v1.eyJzdWIiOiIxIn0.forged"

    async def body(facade):
        plain = await facade.send(path="/api/tags", headers={HEADER: forged})  # a feature without identity
        assert HEADER not in plain.request.headers
        legacy = await facade.send(path="/other", headers={HEADER: forged, "X-Strangler-Identity-Request": "x"})
        assert HEADER not in legacy.request.headers and "X-Strangler-Identity-Request" not in legacy.request.headers
        remote = await facade.send(headers={HEADER: forged})
        assert principal_of(remote).anonymous  # replaced by the façade's own statement
        endpoint = await facade.send(method="POST", path="/__strangler/identity", headers={"Cookie": "session=x"})
        assert endpoint.response is not None and endpoint.response.status_code == 404
        assert endpoint.metadata[META].upstream == "facade"

    run(table_text(monolith.port), tmp_path, body, monkeypatch)


@pytest.mark.parametrize("kind", ["down", "slow", "error", "wrong_key"])
def test_fail_closed_503_never_anonymous(kind, tmp_path, monkeypatch, caplog):
    m = Monolith(delay_s=1.5 if kind == "slow" else 0.0, fail=kind == "error",
                 key="another-key-0123456789abcdef0123456789" if kind == "wrong_key" else KEY)
    port = _closed_port() if kind == "down" else m.port
    try:
        cookie = m.cookie_of("42")

        async def body(facade):
            f = await facade.send(headers={"Cookie": cookie})
            assert f.response is not None and f.response.status_code == 503
            text = f.response.get_text()
            assert "identity unavailable" in text and "Fix:" in text and cookie not in text
            assert HEADER not in f.request.headers
            assert f.metadata[META].upstream == "facade" and not f.metadata[META].forwarded
            assert facade.recorder.seen == [None]  # the later parts ran and saw no forwarded request
            assert outcome(facade, "failed") == 1 and outcome(facade, "resolved") is None

        run(table_text(port, timeout_s=0.3), tmp_path, body, monkeypatch)
    finally:
        m.close()
    lines = [r.getMessage() for r in caplog.records if "identity unavailable" in r.getMessage()]
    assert len(lines) == 1 and cookie.split("=", 1)[1] not in lines[0]


def test_logout_invalidates_the_credential(monolith, tmp_path, monkeypatch):
    cookie = monolith.cookie_of("5")

    async def body(facade):
        await facade.send(headers={"Cookie": cookie})
        assert len(facade.identity.cache) == 1
        out = tflow.tflow()
        out.request.path, out.request.method = "/account", "POST"
        out.request.headers["Cookie"] = cookie
        out.response = tflow.tresp(status_code=302)
        out.response.headers["Set-Cookie"] = "session=; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=0; Path=/"
        facade.pipeline.response(out)
        assert len(facade.identity.cache) == 0
        await facade.send(headers={"Cookie": cookie})
        logout = tflow.tflow()
        logout.request.path = "/auth/logout"
        logout.request.headers["Cookie"] = cookie
        logout.response = tflow.tresp(status_code=302)
        facade.pipeline.response(logout)
        assert len(facade.identity.cache) == 0

    run(table_text(monolith.port), tmp_path, body, monkeypatch)


def test_missing_key_is_a_startup_error(monolith, tmp_path, monkeypatch):
    async def body(facade):
        raise AssertionError("configure should have refused")

    with pytest.raises(exceptions.OptionsError, match="Fix: set STRANGLER_IDENTITY_KEY"):
        run(table_text(monolith.port), tmp_path, body, monkeypatch, key=None)
    with pytest.raises(exceptions.OptionsError, match="too short"):
        run(table_text(monolith.port), tmp_path, body, monkeypatch, key="short")

    async def fine(facade):
        f = await facade.send(path="/api/tags")
        assert f.response is None

    run(table_text(monolith.port, identity_cfg="none"), tmp_path, fine, monkeypatch, key=None)


# ---------------------------------------------------------------------------------------------- pure parts
def test_cache_is_bounded_lru_with_ttl():
    cache = IdentityCache(max_entries=2)
    alice, bob = Principal("1"), Principal("2")
    cache.put("a", ("legacy", ()), alice, 5, now=0)
    cache.put("b", ("legacy", ()), bob, 5, now=0)
    assert cache.get("a", ("legacy", ()), now=1) == alice  # a is now the most recent
    cache.put("c", ("legacy", ()), bob, 5, now=1)
    assert cache.get("b", ("legacy", ()), now=1) is None and len(cache) == 2  # b was the least recent
    assert cache.get("a", ("legacy", ()), now=6) is None  # expired
    assert cache.get("c", ("legacy", ("cart",)), now=1) is None  # another variant is another answer
    cache.put("d", ("legacy", ()), alice, 0, now=1)
    assert cache.get("d", ("legacy", ()), now=1) is None  # cache_s: 0 = never cached


def test_clears_cookie():
    assert clears_cookie(b"session=; Path=/")
    assert clears_cookie(b"session=abc; Max-Age=0")
    assert clears_cookie(b"session=x; Expires=Thu, 01 Jan 1970 00:00:00 GMT")
    assert not clears_cookie(b"session=abc; Path=/; HttpOnly")


def test_copy_headers_sign_per_copy_and_keep_the_credential_for_legacy_only():
    carried = Carried(Principal("9", "Nine"), (("Cookie", "session=s9"),))
    base = [("Accept", "application/json"), (HEADER, "v1.stale.header"), ("Authorization", "Bearer t")]
    to_target = copy_headers(base, carried, KEY, method="GET", path="/api/recipes/3?x=1", to_legacy=False,
                             forward_credentials=False)
    names = [k.lower() for k, _ in to_target]
    assert "cookie" not in names and "authorization" not in names and names.count(HEADER.lower()) == 1
    value = dict(to_target)[HEADER]
    assert verify(KEY, value, method="GET", path="/api/recipes/3", guard=ReplayGuard()).user_id == "9"
    to_legacy = dict(copy_headers(base, carried, KEY, method="GET", path="/api/recipes/3", to_legacy=True,
                                  forward_credentials=False))
    assert to_legacy["Cookie"] == "session=s9" and to_legacy["Authorization"] == "Bearer t"
    assert to_legacy[HEADER] != value  # each send its own nonce


# ---------------------------------------------------------------------------------------------- table field
TABLE_FIELD = """\
upstreams:
  legacy: {url: "http://127.0.0.1:5000"}
  svc: {url: "http://127.0.0.1:5001"}
default: legacy
features:
  f:
    target: svc
    routes: [{path: /a}]
    identity: VALUE
"""


@pytest.mark.parametrize(("value", "expected"), [
    ("remote", ("remote", None, 5.0)),
    ("none", ("none", None, 5.0)),
    ("{mode: remote, source: svc, cache_s: 2, session_keys: [cart_id], forward_credentials: true}",
     ("remote", "svc", 2.0)),
])
def test_table_identity_forms(value, expected):
    cfg = parse_table(TABLE_FIELD.replace("VALUE", value)).features["f"].identity
    assert (cfg.mode, cfg.source, cfg.cache_s) == expected
    assert parse_table(TABLE_FIELD.replace("    identity: VALUE\n", "")).features["f"].identity.mode == "none"


@pytest.mark.parametrize(("value", "message"), [
    ("remot", "identity 'remot' is not one of none, remote (did you mean 'remote'?)"),
    ("5", "identity 5 is not one of none, remote"),
    ("{mode: remote, source: nope}", "asks identity of unknown upstream 'nope'"),
    ("{mode: x}", "identity mode 'x' is not one of none, remote"),
    ("{mode: remote, cache_s: -1}", "cache_s = -1 is out of range"),
    ("{mode: remote, bogus: 1}", "unknown key 'bogus'"),
])
def test_table_identity_errors_have_a_line_and_a_fix(value, message):
    with pytest.raises(TableError) as caught:
        parse_table(TABLE_FIELD.replace("VALUE", value), source="routes.yaml")
    assert caught.value.line == 9 and message in caught.value.problem and caught.value.fix


# ---------------------------------------------------------------------------------------------- parity cause
def test_identity_rejected_is_one_cause():
    status_class = Classified(Cause.STATUS_CLASS, "200 → 401")
    found = identity_cause(status_class, "user", 200, 401)
    assert found == Classified(Cause.IDENTITY_REJECTED, "user: 200 → 401") and found.cause.differs
    assert identity_cause(Classified(Cause.STATUS_CLASS, "200 → 403"), "failed", 200, 403).label == \
        "failed: 200 → 403"
    assert identity_cause(Classified(Cause.STATUS_CLASS, "401 → 200"), "user", 401, 200).cause is Cause.STATUS_CLASS
    assert identity_cause(Classified(Cause.STATUS_CLASS, "200 → 404"), "user", 200, 404).cause is Cause.STATUS_CLASS
    assert identity_cause(Classified(Cause.BODY), "user", 200, 200).cause is Cause.BODY
    assert describe(Cause.IDENTITY_REJECTED, "user: 200 → 401", 3) == "identity rejected (user: 200 → 401) on 3 " \
        "requests"


# ---------------------------------------------------------------------------------------------- shadow engine
def _engine_exchange(tmp_path: Path, monkeypatch, target_checks_identity: bool) -> tuple[list, dict, list]:
    """One shadowed GET through the real engine (mirror mode: it asks legacy for the reference) with a
    resolved identity; real loopback servers record what each side received."""
    from proxy.parity import ParityStore
    from proxy.parity.recent import evaluate
    from proxy.shadow.engine import Engine, Job
    from proxy.table import load_table

    monkeypatch.setenv(KEY_ENV, KEY)
    seen: dict[str, list[dict[str, str]]] = {"legacy": [], "svc": []}
    body = b'{"id": 7, "owner": "42"}'

    def server(name: str):
        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            try:
                while True:
                    head = await reader.readuntil(b"\r\n\r\n")
                    lines = head.decode("latin-1").split("\r\n")
                    pairs = (ln.partition(":") for ln in lines[1:] if ln)
                    headers = {k.strip().lower(): v.strip() for k, _, v in pairs}
                    seen[name].append(headers)
                    ok = name == "legacy" or (target_checks_identity and _valid(headers.get(HEADER.lower())))
                    status, out = (200, body) if ok else (401, b'{"title": "login required"}')
                    writer.write(b"HTTP/1.1 %d X\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
                                 % (status, len(out), out))
                    await writer.drain()
            except (asyncio.IncompleteReadError, ConnectionError):
                writer.close()
        return handle

    def _valid(value: str | None) -> bool:
        try:
            return value is not None and verify(KEY, value, method="GET", path="/api/items/7").user_id == "42"
        except IdentityError:
            return False

    async def main() -> tuple[list, list]:
        legacy = await asyncio.start_server(server("legacy"), "127.0.0.1", 0)
        svc = await asyncio.start_server(server("svc"), "127.0.0.1", 0)
        ports = [s.sockets[0].getsockname()[1] for s in (legacy, svc)]
        routes = tmp_path / "routes.yaml"
        routes.write_text(f"""\
upstreams:
  legacy: {{url: "http://127.0.0.1:{ports[0]}", timeout_s: 5}}
  svc: {{url: "http://127.0.0.1:{ports[1]}", timeout_s: 5}}
default: legacy
features:
  items:
    target: svc
    state: shadow
    identity: remote
    routes:
      - {{methods: [GET], path: "/api/items/{{id}}"}}
""")
        table = load_table(routes)
        store = ParityStore(tmp_path / "parity.db", background=False)
        events: list = []
        engine = Engine(store, "", events.append)
        carried = Carried(Principal("42", "Forty-two"), (("Cookie", "session=s42"),))
        try:  # the served request's headers: the façade's own signed header for legacy, the cookie kept
            job = Job("items", "/api/items/{id}", "GET", "/api/items/7?x=1",
                      (("Accept", "application/json"), ("Cookie", "session=s42"), (HEADER, "v1.served.request")),
                      b"", "svc", None, False, identity=carried)
            await engine.run(job, table, None)
            await engine.aclose()
            store.flush()
            rules = table.features["items"].parity
            return [g.to_dict() for g in evaluate("items", store.recent("items", rules.window), rules).groups], events
        finally:
            store.close()
            legacy.close()
            svc.close()

    groups, events = asyncio.run(main())
    return groups, seen, events


def test_shadow_copy_signs_its_own_identity_and_keeps_the_cookie_from_the_target(tmp_path, monkeypatch):
    groups, seen, _ = _engine_exchange(tmp_path, monkeypatch, target_checks_identity=True)
    (to_svc,), (to_legacy,) = seen["svc"], seen["legacy"]
    assert "cookie" not in to_svc and verify(KEY, to_svc[HEADER.lower()], method="GET", path="/api/items/7",
                                             guard=ReplayGuard()).user_id == "42"
    assert to_legacy["cookie"] == "session=s42" and to_legacy[HEADER.lower()] != "v1.served.request"
    assert [g["cause"] for g in groups] == ["equal"]


def test_a_service_refusing_the_user_is_one_identity_rejected_finding(tmp_path, monkeypatch):
    groups, _, _ = _engine_exchange(tmp_path, monkeypatch, target_checks_identity=False)
    assert [(g["cause"], g["label"]) for g in groups] == [("identity_rejected", "user: 200 → 401")]
