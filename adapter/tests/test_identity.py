"""The identity header and the endpoint proof (strangler_app.identity): standard library only (unittest)."""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import sys
import time
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from strangler_app import identity
from strangler_app.identity import IdentityError, Principal, ReplayGuard

KEY = "identity-test-key-0123456789abcdef0123"
ALICE = Principal("42", "Alice", ("reader",), {"plan": "gold"}, {"cart_id": 7})


class HeaderTest(unittest.TestCase):
    def test_round_trip_carries_the_principal(self) -> None:
        value = identity.sign(KEY, ALICE, method="get", path="/api/recipes/3?x=1")
        got = identity.verify(KEY, value, method="GET", path="/api/recipes/3", guard=ReplayGuard())
        self.assertEqual(got, ALICE)
        self.assertFalse(got.anonymous)
        self.assertTrue(value.startswith("v1.") and value.count(".") == 2)
        payload = json.loads(base64.urlsafe_b64decode(value.split(".")[1] + "=="))
        self.assertEqual(set(payload), {"sub", "name", "roles", "claims", "session", "iat", "exp", "nonce", "m", "p"})
        self.assertEqual((payload["m"], payload["p"]), ("GET", "/api/recipes/3"))

    def test_the_mac_is_the_documented_hmac_for_each_key(self) -> None:
        # sign() reuses a keyed HMAC state per key: its MAC must stay HMAC-SHA256(key, "v1." + payload_b64),
        # computed here from scratch, and a second key must never sign with the first one's state
        other = "another-identity-key-0123456789abcdef"
        for key in (KEY, other, KEY):
            version, payload, mac = identity.sign(key, ALICE, method="GET", path="/a").split(".")
            expected = hmac.new(key.encode(), ("v1." + payload).encode(), hashlib.sha256).digest()
            self.assertEqual(mac, base64.urlsafe_b64encode(expected).rstrip(b"=").decode(), key)
            self.assertEqual(version, "v1")
        value = identity.sign(other, ALICE, method="GET", path="/a")
        with self.assertRaises(IdentityError):
            identity.verify(KEY, value, method="GET", path="/a", guard=ReplayGuard())

    def test_remembered_payload_start_never_mixes_principals_or_requests(self) -> None:
        # sign() keeps the base64url of a payload's fixed start (principal, method, path) and the MAC state after
        # it: every header must still be the documented HMAC over its whole payload, the payload plain JSON
        # with this request's principal, method and path (whatever the start's length mod 3), and a memo hit
        # must give the same as a miss
        bob = Principal("43", "Bob")
        for path in ("/a", "/ab", "/abc", "/api/recipes/3", "/"):
            for who in (ALICE, bob, identity.ANONYMOUS, ALICE):
                for method in ("GET", "post", "GET"):
                    value = identity.sign(KEY, who, method=method, path=path + "?q=1", now=1000.0)
                    _, payload, mac = value.split(".")
                    expected = hmac.new(KEY.encode(), ("v1." + payload).encode(), hashlib.sha256).digest()
                    self.assertEqual(mac, base64.urlsafe_b64encode(expected).rstrip(b"=").decode())
                    data = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
                    self.assertEqual((data["sub"], data["name"], data["m"], data["p"], data["iat"], data["exp"]),
                                     (who.user_id, who.name, method.upper(), path, 1000, 1030))
                    got = identity.verify(KEY, value, method=method, path=path, now=1001.0, guard=ReplayGuard())
                    self.assertEqual(got, who)

    def test_remembered_payload_starts_are_bounded(self) -> None:
        mac = identity._mac_for(KEY)
        for i in range(identity.MAX_PREFIXES + 10):
            identity.sign(KEY, ALICE, method="GET", path=f"/bounded/{i}")
        self.assertLessEqual(len(mac._prefixes), identity.MAX_PREFIXES)
        value = identity.sign(KEY, ALICE, method="GET", path="/bounded/0")
        self.assertEqual(identity.verify(KEY, value, method="GET", path="/bounded/0", guard=ReplayGuard()), ALICE)

    def test_paths_that_need_json_escaping(self) -> None:
        for path in ('/a/"quoted"', "/a/back\\slash", "/caf\u00e9", "/tab\there", "/%22enc"):
            value = identity.sign(KEY, ALICE, method="GET", path=path)
            self.assertEqual(identity.verify(KEY, value, method="GET", path=path, guard=ReplayGuard()), ALICE, path)

    def test_anonymous_round_trip(self) -> None:
        value = identity.sign(KEY, identity.ANONYMOUS, method="GET", path="/")
        self.assertTrue(identity.verify(KEY, value, method="GET", path="/", guard=ReplayGuard()).anonymous)

    def _refused(self, value: str, reason: str, method: str = "GET", path: str = "/a", now: float | None = None,
                 key: str = KEY) -> None:
        with self.assertRaises(IdentityError) as caught:
            identity.verify(key, value, method=method, path=path, now=now, guard=ReplayGuard())
        self.assertIn(reason, str(caught.exception))

    def test_forged_tampered_or_other_key(self) -> None:
        good = identity.sign(KEY, ALICE, method="GET", path="/a")
        version, payload, mac = good.split(".")
        data = json.loads(base64.urlsafe_b64decode(payload + "=="))
        data["sub"] = "1"  # become another user, keep the MAC
        forged = base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()
        self._refused("%s.%s.%s" % (version, forged, mac), "does not match")
        self._refused(good, "does not match", key="another-key-0123456789abcdef012345")
        other = identity.sign("another-key-0123456789abcdef012345", ALICE, method="GET", path="/a")
        self._refused(other, "does not match")

    def test_malformed(self) -> None:
        for bad in ("", "v1", "v2.a.b", "v1.a.b.c", "x" * 20000, "v1..", "garbage"):
            with self.assertRaises(IdentityError, msg=bad):
                identity.verify(KEY, bad, method="GET", path="/a", guard=ReplayGuard())

    def test_bound_to_method_and_path(self) -> None:
        value = identity.sign(KEY, ALICE, method="GET", path="/a")
        self._refused(value, "another request", method="DELETE")
        self._refused(value, "another request", path="/b")

    def test_expired_and_future(self) -> None:
        old = identity.sign(KEY, ALICE, method="GET", path="/a", ttl_s=5, now=time.time() - 10)
        self._refused(old, "expired")
        future = identity.sign(KEY, ALICE, method="GET", path="/a", now=time.time() + 120)
        self._refused(future, "future")

    def test_replayed_once_accepted(self) -> None:
        guard = ReplayGuard()
        value = identity.sign(KEY, ALICE, method="GET", path="/a")
        identity.verify(KEY, value, method="GET", path="/a", guard=guard)
        with self.assertRaises(IdentityError) as caught:
            identity.verify(KEY, value, method="GET", path="/a", guard=guard)
        self.assertIn("replayed", str(caught.exception))

    def test_the_guard_given_is_the_one_used(self) -> None:
        value = identity.sign(KEY, ALICE, method="GET", path="/a")
        for _ in range(2):  # two processes: each has its own guard, each accepts the header once
            self.assertEqual(identity.verify(KEY, value, method="GET", path="/a", guard=ReplayGuard()), ALICE)

    def test_replay_guard_is_bounded_and_fails_closed(self) -> None:
        guard = ReplayGuard(max_entries=2)
        self.assertTrue(guard.first_use("a" * 32, 100, 50))
        self.assertTrue(guard.first_use("b" * 32, 100, 50))
        self.assertFalse(guard.first_use("c" * 32, 100, 50))  # full: refuse, never forget a live nonce
        self.assertTrue(guard.first_use("c" * 32, 200, 200))  # the others expired (exp + skew < now)
        self.assertEqual(len(guard), 1)

    def test_key_missing_or_short_is_a_clear_error(self) -> None:
        for key in ("", "short"):
            with self.assertRaises(ValueError) as caught:
                identity.sign(key, ALICE, method="GET", path="/")
            self.assertIn("Fix: set STRANGLER_IDENTITY_KEY", str(caught.exception))
        with self.assertRaises(ValueError):
            identity.key_from_env({})
        self.assertEqual(identity.key_from_env({identity.KEY_ENV: KEY}), KEY)

    def test_from_json_refuses_bad_shapes(self) -> None:
        for bad in ([], {"user_id": True}, {"user_id": "1", "roles": "admin"}, {"user_id": "1", "claims": []},
                    {"user_id": {"x": 1}}):
            with self.assertRaises(IdentityError, msg=repr(bad)):
                Principal.from_json(bad)
        self.assertEqual(Principal.from_json({"user_id": 5}).user_id, "5")


class RequestProofTest(unittest.TestCase):
    def test_valid_stale_forged(self) -> None:
        proof = identity.request_proof(KEY)
        self.assertTrue(identity.check_request_proof(KEY, proof))
        self.assertFalse(identity.check_request_proof("another-key-0123456789abcdef012345", proof))
        self.assertFalse(identity.check_request_proof(KEY, identity.request_proof(KEY, now=time.time() - 31)))
        self.assertFalse(identity.check_request_proof(KEY, identity.request_proof(KEY, now=time.time() + 31)))
        for bad in (None, "", "t=1", proof + "0", proof.replace("v1=", "v2=")):
            self.assertFalse(identity.check_request_proof(KEY, bad), bad)
        self.assertFalse(identity.check_request_proof("", proof))


if __name__ == "__main__":
    unittest.main()
