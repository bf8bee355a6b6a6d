"""The legacy side of remote identity (strangler_app.flask_identity) with Flask's real test client: plain Flask
session and Flask-Login (session and remember cookie), loopback-only, proof required, whitelisted session keys,
no session writes. Skipped where Flask / Flask-Login are not installed (the adapter does not require them)."""
from __future__ import annotations

import sys
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

try:
    import flask
    import flask_login
except ImportError:  # pragma: no cover
    flask = flask_login = None  # type: ignore[assignment]

from strangler_app import identity
from strangler_app.identity import ENDPOINT, REQUEST_HEADER, Principal

KEY = "identity-test-key-0123456789abcdef0123"
LOOPBACK = {"REMOTE_ADDR": "127.0.0.1"}


def _session_app(**kwargs):
    from strangler_app.flask_identity import RemoteIdentity

    app = flask.Flask("plain")
    app.secret_key = "test-secret-key"
    app.config["SESSION_REFRESH_EACH_REQUEST"] = True

    @app.post("/login/<uid>")
    def login(uid):
        flask.session["user_id"] = uid
        flask.session["cart_id"] = "cart-" + uid
        flask.session["csrf_secret"] = "never-shared"
        flask.session.permanent = True  # with refresh-each-request Flask re-sends the cookie on EVERY request
        return "ok"

    @app.before_request
    def csrf_like():  # an app-wide POST guard must not break the façade's call
        if flask.request.method == "POST" and not flask.request.path.startswith("/login"):
            flask.abort(400)

    RemoteIdentity(app, key=KEY, **kwargs)
    return app


def _ask(client, **headers):
    headers.setdefault(REQUEST_HEADER, identity.request_proof(KEY))
    return client.post(ENDPOINT, headers={k: v for k, v in headers.items() if v is not None},
                       environ_base=headers.pop("environ", LOOPBACK))


@unittest.skipIf(flask is None, "Flask is not installed")
class PlainSessionTest(unittest.TestCase):
    def setUp(self) -> None:
        self.app = _session_app(session_keys=("cart_id",))
        self.client = self.app.test_client()

    def test_logged_in_caller_and_whitelisted_session(self) -> None:
        self.client.post("/login/42", environ_base=LOOPBACK)
        got = _ask(self.client)
        self.assertEqual(got.status_code, 200, got.data)
        self.assertEqual(got.json, {"user_id": "42", "name": None, "roles": [], "claims": {},
                                    "session": {"cart_id": "cart-42"}})  # csrf_secret is not whitelisted
        self.assertEqual(got.headers["Cache-Control"], "no-store")
        self.assertNotIn("Set-Cookie", got.headers)  # read-only: the session is never saved

    def test_anonymous(self) -> None:
        got = _ask(self.client)
        self.assertEqual(got.status_code, 200)
        self.assertEqual(got.json["user_id"], None)
        self.assertEqual(got.json["session"], {})

    def test_non_loopback_caller_refused(self) -> None:
        self.client.post("/login/42", environ_base=LOOPBACK)
        for addr in ("10.1.2.3", "192.168.0.5", "2001:db8::1", "", "not-an-ip"):
            got = self.client.post(ENDPOINT, headers={REQUEST_HEADER: identity.request_proof(KEY)},
                                   environ_base={"REMOTE_ADDR": addr})
            self.assertEqual(got.status_code, 403, addr)
            self.assertNotIn("42", got.get_data(as_text=True))

    def test_proxy_fix_cannot_make_a_remote_caller_loopback(self) -> None:
        from werkzeug.middleware.proxy_fix import ProxyFix

        self.app.wsgi_app = ProxyFix(self.app.wsgi_app, x_for=1)
        got = self.client.post(ENDPOINT, headers={REQUEST_HEADER: identity.request_proof(KEY),
                                                  "X-Forwarded-For": "127.0.0.1"},
                               environ_base={"REMOTE_ADDR": "10.9.9.9"})
        self.assertEqual(got.status_code, 403)

    def test_missing_stale_or_forged_proof_refused(self) -> None:
        self.client.post("/login/42", environ_base=LOOPBACK)
        for proof in (None, "", identity.request_proof("another-key-0123456789abcdef012345"), "t=1,v1=" + "0" * 64):
            got = _ask(self.client, **{REQUEST_HEADER: proof})
            self.assertEqual(got.status_code, 403, proof)
            self.assertEqual(got.json["title"], "identity request refused")
            self.assertNotIn("42", got.get_data(as_text=True))

    def test_only_post(self) -> None:
        got = self.client.get(ENDPOINT, headers={REQUEST_HEADER: identity.request_proof(KEY)}, environ_base=LOOPBACK)
        self.assertEqual(got.status_code, 405)

    def test_other_routes_untouched(self) -> None:
        self.assertEqual(self.client.post("/login/7", environ_base=LOOPBACK).data, b"ok")
        self.assertEqual(self.client.post("/other", environ_base=LOOPBACK).status_code, 400)

    def test_custom_identify_and_its_failure(self) -> None:
        app = _session_app(identify=lambda: Principal("svc", "Service", ("admin",), {"tenant": "t1"}))
        self.assertEqual(_ask(app.test_client()).json["roles"], ["admin"])

        def broken():
            raise RuntimeError("database down")
        got = _ask(_session_app(identify=broken).test_client())
        self.assertEqual(got.status_code, 500)  # the façade fails closed on it
        self.assertNotIn("database down", got.get_data(as_text=True))

    def test_missing_key_is_a_startup_error(self) -> None:
        from strangler_app.flask_identity import RemoteIdentity

        with self.assertRaises(ValueError) as caught:
            RemoteIdentity(flask.Flask("x"), key="short")
        self.assertIn("Fix: set STRANGLER_IDENTITY_KEY", str(caught.exception))
        with self.assertRaises(TypeError):
            RemoteIdentity(flask.Flask("y"), key=KEY, session_keys="cart_id")


@unittest.skipIf(flask is None or flask_login is None, "Flask-Login is not installed")
class FlaskLoginTest(unittest.TestCase):
    def setUp(self) -> None:
        from strangler_app.flask_identity import RemoteIdentity

        app = flask.Flask("login")
        app.secret_key = "test-secret-key"
        manager = flask_login.LoginManager(app)

        class User(flask_login.UserMixin):
            def __init__(self, uid: str) -> None:
                self.id, self.name, self.roles = uid, "user " + uid, ["cook"]

        manager.user_loader(lambda uid: User(uid) if uid in ("1", "2") else None)

        @app.post("/login/<uid>")
        def login(uid):
            flask_login.login_user(User(uid), remember=flask.request.args.get("remember") == "1")
            return "ok"

        @app.post("/logout")
        def logout():
            flask_login.logout_user()
            return "bye"

        RemoteIdentity(app, key=KEY)
        self.client = app.test_client()

    def test_current_user(self) -> None:
        self.client.post("/login/1", environ_base=LOOPBACK)
        got = _ask(self.client)
        self.assertEqual((got.json["user_id"], got.json["name"], got.json["roles"]), ("1", "user 1", ["cook"]))
        self.assertNotIn("Set-Cookie", got.headers)

    def test_logout_makes_anonymous(self) -> None:
        self.client.post("/login/2", environ_base=LOOPBACK)
        self.client.post("/logout", environ_base=LOOPBACK)
        self.assertIsNone(_ask(self.client).json["user_id"])

    def test_remember_cookie_alone_resolves_without_writing(self) -> None:
        self.client.post("/login/2?remember=1", environ_base=LOOPBACK)
        self.client.delete_cookie("session")  # the session expired; the remember cookie is still there
        self.assertIsNotNone(self.client.get_cookie("remember_token"))
        got = _ask(self.client)
        self.assertEqual(got.json["user_id"], "2")
        self.assertNotIn("Set-Cookie", got.headers)  # Flask-Login would normally refresh the session here

    def test_session_of_one_user_never_answers_for_another(self) -> None:
        other = self.client.application.test_client()
        self.client.post("/login/1", environ_base=LOOPBACK)
        other.post("/login/2", environ_base=LOOPBACK)
        self.assertEqual(_ask(self.client).json["user_id"], "1")
        self.assertEqual(_ask(other).json["user_id"], "2")


if __name__ == "__main__":
    unittest.main()
