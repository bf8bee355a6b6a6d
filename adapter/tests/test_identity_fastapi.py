"""The service side of remote identity (strangler_app.fastapi_identity) through Starlette's real test client:
forged, replayed, expired and misbound headers never reach the handler; CurrentUser refuses anonymous callers
with a 401 problem; MaybeUser allows them. Skipped where FastAPI is not installed."""
from __future__ import annotations

import sys
import time
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

try:
    import fastapi
    from fastapi.testclient import TestClient
    from strangler_app.fastapi_identity import CurrentUser, IdentityMiddleware, MaybeUser
except ImportError:  # pragma: no cover
    fastapi = None  # type: ignore[assignment]

from strangler_app import identity
from strangler_app.identity import HEADER, Principal

KEY = "identity-test-key-0123456789abcdef0123"
BOB = Principal("7", "Bob", ("cook",), {}, {"cart_id": "c7"})


def _app():
    app = fastapi.FastAPI()
    app.add_middleware(IdentityMiddleware, key=KEY)
    app.state.calls = 0

    @app.get("/recipes/mine")
    def mine(user: CurrentUser):
        app.state.calls += 1
        return {"user": user.user_id, "name": user.name, "roles": list(user.roles), "cart": user.session.get("cart_id")}

    @app.post("/recipes/{rid}/like")
    async def like(rid: int, user: CurrentUser):
        app.state.calls += 1
        return {"liked": rid, "by": user.user_id}

    @app.get("/recipes")
    def listing(user: MaybeUser):
        app.state.calls += 1
        return {"anonymous": user.anonymous}

    return app


@unittest.skipIf(fastapi is None, "FastAPI is not installed")
class MiddlewareTest(unittest.TestCase):
    def setUp(self) -> None:
        self.app = _app()
        self.client = TestClient(self.app)

    def _get(self, path: str, value: str | None):
        return self.client.get(path, headers={HEADER: value} if value is not None else {})

    def test_signed_user_reaches_the_handler(self) -> None:
        got = self._get("/recipes/mine", identity.sign(KEY, BOB, method="GET", path="/recipes/mine"))
        self.assertEqual(got.status_code, 200, got.text)
        self.assertEqual(got.json(), {"user": "7", "name": "Bob", "roles": ["cook"], "cart": "c7"})
        post = self.client.post("/recipes/3/like",
                                headers={HEADER: identity.sign(KEY, BOB, method="POST", path="/recipes/3/like")})
        self.assertEqual(post.json(), {"liked": 3, "by": "7"})

    def test_anonymous(self) -> None:
        got = self._get("/recipes/mine", None)
        self.assertEqual(got.status_code, 401)
        self.assertEqual(got.headers["content-type"], "application/problem+json")
        self.assertEqual(got.json()["title"], "login required")
        self.assertEqual(self._get("/recipes", None).json(), {"anonymous": True})
        signed_anon = identity.sign(KEY, identity.ANONYMOUS, method="GET", path="/recipes/mine")
        self.assertEqual(self._get("/recipes/mine", signed_anon).status_code, 401)
        self.assertEqual(self.app.state.calls, 1)

    def test_refused_headers_never_reach_the_handler(self) -> None:
        replayed = identity.sign(KEY, BOB, method="GET", path="/recipes/mine")
        self.assertEqual(self._get("/recipes/mine", replayed).status_code, 200)
        calls = self.app.state.calls
        bad = {
            "replayed": replayed,
            "forged": identity.sign("another-key-0123456789abcdef012345", BOB, method="GET", path="/recipes/mine"),
            "expired": identity.sign(KEY, BOB, method="GET", path="/recipes/mine", ttl_s=1, now=time.time() - 5),
            "other method": identity.sign(KEY, BOB, method="POST", path="/recipes/mine"),
            "other path": identity.sign(KEY, BOB, method="GET", path="/elsewhere"),
            "garbage": "v1.x.y",
        }
        for what, value in bad.items():
            for path in ("/recipes/mine", "/recipes"):  # even a route that allows anonymous refuses a bad header
                got = self._get(path, value)
                self.assertEqual(got.status_code, 401, (what, path, got.text))
                self.assertEqual(got.json()["title"], "identity header refused", what)
        self.assertEqual(self.app.state.calls, calls)

    def test_two_headers_refused(self) -> None:
        a = identity.sign(KEY, BOB, method="GET", path="/recipes")
        b = identity.sign(KEY, identity.ANONYMOUS, method="GET", path="/recipes")
        got = self.client.get("/recipes", headers=[(HEADER, a), (HEADER, b)])
        self.assertEqual(got.status_code, 401)

    def test_missing_key_is_a_startup_error(self) -> None:
        with self.assertRaises(ValueError) as caught:
            IdentityMiddleware(_app(), key="")
        self.assertIn("Fix: set STRANGLER_IDENTITY_KEY", str(caught.exception))

    def test_without_middleware_current_user_is_an_error_not_anonymous(self) -> None:
        app = fastapi.FastAPI()

        @app.get("/x")
        def x(user: MaybeUser):
            return {"user": user.user_id}

        got = TestClient(app, raise_server_exceptions=False).get("/x")
        self.assertEqual(got.status_code, 500)


if __name__ == "__main__":
    unittest.main()
