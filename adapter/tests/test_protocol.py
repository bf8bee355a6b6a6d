"""The adapter's own tests: standard library only (unittest), so they run on the oldest Python it supports
(`python3 -m unittest discover -s adapter/tests`) as well as under the kit's pytest."""
from __future__ import annotations

import asyncio
import io
import json
import logging
import sys
import time
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from strangler_app import asgi, protocol, scope, wsgi
from strangler_app.protocol import ACK_HEADER, HEADER, PROBE_PATH

KEY = "adapter-test-key-0123456789abcdef"


class SignatureTest(unittest.TestCase):
    def test_round_trip_and_binding(self) -> None:
        header = protocol.sign(KEY, "post", "/a?b=1", b'{"x":1}')
        self.assertTrue(protocol.verify(KEY, "POST", "/a?b=1", b'{"x":1}', header))
        for method, path, body, key in (("PUT", "/a?b=1", b'{"x":1}', KEY), ("POST", "/a", b'{"x":1}', KEY),
                                        ("POST", "/a?b=1", b'{"x":2}', KEY), ("POST", "/a?b=1", b'{"x":1}', "x" * 20)):
            self.assertFalse(protocol.verify(key, method, path, body, header), (method, path, body))

    def test_stale_malformed_and_empty(self) -> None:
        old = protocol.sign(KEY, "POST", "/a", b"", ts=time.time() - 31)
        self.assertFalse(protocol.verify(KEY, "POST", "/a", b"", old))
        good = protocol.sign(KEY, "POST", "/a", b"")
        for bad in ("", "t=1", good.replace("n=", "m="), good + ",t=1", "t=abc,n=00,v2=ff", good.upper()):
            self.assertFalse(protocol.verify(KEY, "POST", "/a", b"", bad), bad)
        self.assertFalse(protocol.verify("", "POST", "/a", b"", good))
        with self.assertRaises(ValueError):
            protocol.sign("", "POST", "/a")

    def test_nonce_differs_per_signature(self) -> None:
        a, b = (protocol.sign(KEY, "POST", "/a", b"", ts=1000) for _ in range(2))
        self.assertNotEqual(a, b)

    def test_ack_binds_signature_and_status(self) -> None:
        sig = protocol.sign(KEY, "POST", "/a", b"")
        value = protocol.ack(KEY, sig, 201)
        self.assertTrue(protocol.ack_valid(KEY, sig, 201, value))
        self.assertFalse(protocol.ack_valid(KEY, sig, 200, value))
        self.assertFalse(protocol.ack_valid(KEY, protocol.sign(KEY, "POST", "/a", b""), 201, value))
        self.assertFalse(protocol.ack_valid("another-key-0123456789", sig, 201, value))
        self.assertFalse(protocol.ack_valid(KEY, sig, 201, None))
        self.assertFalse(protocol.ack_valid(KEY, sig, 201, "1"))


class ReplayGuardTest(unittest.TestCase):
    def test_once_within_window_then_forgotten(self) -> None:
        guard = protocol.ReplayGuard(window_s=30)
        sig = protocol.sign(KEY, "POST", "/a", b"", ts=1000)
        self.assertEqual(protocol.check(KEY, "POST", "/a", b"", sig, guard, now=1000), protocol.VALID)
        self.assertEqual(protocol.check(KEY, "POST", "/a", b"", sig, guard, now=1010), protocol.REPLAYED)
        self.assertEqual(protocol.check(KEY, "POST", "/a", b"", sig, guard, now=1031), protocol.INVALID)  # stale
        self.assertEqual(protocol.check(KEY, "POST", "/a", b"", None, guard, now=1031), protocol.ABSENT)
        guard.first_use("f" * 32, 2000, now=2000)
        self.assertEqual(len(guard), 1)  # the expired nonce was pruned

    def test_full_guard_fails_closed(self) -> None:
        guard = protocol.ReplayGuard(window_s=30, max_entries=2)
        self.assertTrue(guard.first_use("a" * 32, 1000, now=1000))
        self.assertTrue(guard.first_use("b" * 32, 1000, now=1000))
        self.assertFalse(guard.first_use("c" * 32, 1000, now=1000))
        self.assertTrue(guard.first_use("c" * 32, 1000, now=1031))


def _asgi_call(app, method: str, path: str, body: bytes, headers: dict) -> tuple:
    scope_ = {"type": "http", "method": method, "path": path.split("?")[0], "raw_path": path.split("?")[0].encode(),
              "query_string": (path.split("?", 1)[1] if "?" in path else "").encode(),
              "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()]}
    sent = []

    async def receive():
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message):
        sent.append(message)

    asyncio.run(app(scope_, receive, send))
    start = sent[0]
    return start["status"], {k.decode(): v.decode() for k, v in start["headers"]}, b"".join(
        m.get("body", b"") for m in sent[1:])


class AsgiMiddlewareTest(unittest.TestCase):
    def setUp(self) -> None:
        self.ran = []

        async def app(scope_, receive, send):
            message = await receive()
            self.ran.append((scope_["state"]["dry_run"], scope.is_dry_run(), message["body"]))
            await send({"type": "http.response.start", "status": 201, "headers": [(b"content-type", b"text/plain")]})
            await send({"type": "http.response.body", "body": b"made"})

        self.mw = asgi.DryRunMiddleware(app, key=KEY)

    def test_signed_write_is_a_dry_run_and_acknowledged(self) -> None:
        sig = protocol.sign(KEY, "POST", "/loans?x=1", b"{}")
        status, headers, body = _asgi_call(self.mw, "POST", "/loans?x=1", b"{}", {HEADER: sig})
        self.assertEqual((status, body), (201, b"made"))
        self.assertTrue(protocol.ack_valid(KEY, sig, 201, headers[ACK_HEADER.lower()]))
        self.assertEqual(self.ran, [(True, True, b"{}")])
        self.assertFalse(scope.is_dry_run())

    def test_unsigned_write_runs_for_real_without_ack(self) -> None:
        status, headers, _ = _asgi_call(self.mw, "POST", "/loans", b"{}", {})
        self.assertEqual(status, 201)
        self.assertNotIn(ACK_HEADER.lower(), headers)
        self.assertEqual(self.ran, [(False, False, b"{}")])

    def test_forged_and_replayed_writes_are_refused_and_never_run(self) -> None:
        forged = protocol.sign("not-the-key-0123456789", "POST", "/loans", b"{}")
        status, _, body = _asgi_call(self.mw, "POST", "/loans", b"{}", {HEADER: forged})
        self.assertEqual(status, 403)
        self.assertIn("forged", json.loads(body)["detail"])
        sig = protocol.sign(KEY, "POST", "/loans", b"{}")
        self.assertEqual(_asgi_call(self.mw, "POST", "/loans", b"{}", {HEADER: sig})[0], 201)
        status, _, body = _asgi_call(self.mw, "POST", "/loans", b"{}", {HEADER: sig})
        self.assertEqual(status, 403)
        self.assertIn("replayed", json.loads(body)["detail"])
        self.assertEqual(len(self.ran), 1)

    def test_probe_route(self) -> None:
        sig = protocol.sign(KEY, "POST", PROBE_PATH, b"")
        status, headers, _ = _asgi_call(self.mw, "POST", PROBE_PATH, b"", {HEADER: sig})
        self.assertEqual(status, 200)
        self.assertTrue(protocol.ack_valid(KEY, sig, 200, headers[ACK_HEADER.lower()]))
        for headers_ in ({}, {HEADER: sig}, {HEADER: protocol.sign("x" * 20, "POST", PROBE_PATH, b"")}):
            status, headers, _ = _asgi_call(self.mw, "POST", PROBE_PATH, b"", headers_)
            self.assertEqual(status, 403, headers_)
            self.assertNotIn(ACK_HEADER.lower(), headers)
        self.assertEqual(_asgi_call(self.mw, "GET", PROBE_PATH, b"", {})[0], 403)
        self.assertEqual(self.ran, [])

    def test_an_app_failure_is_a_500_that_still_acknowledges(self) -> None:
        async def broken(scope_, receive, send):
            raise RuntimeError("bug")

        mw = asgi.DryRunMiddleware(broken, key=KEY)
        sig = protocol.sign(KEY, "POST", "/loans", b"{}")
        logging.disable(logging.CRITICAL)
        try:
            status, headers, _ = _asgi_call(mw, "POST", "/loans", b"{}", {HEADER: sig})
        finally:
            logging.disable(logging.NOTSET)
        self.assertEqual(status, 500)
        self.assertTrue(protocol.ack_valid(KEY, sig, 500, headers[ACK_HEADER.lower()]))
        with self.assertRaises(RuntimeError):  # an unsigned request's failure is the server's business
            _asgi_call(mw, "POST", "/loans", b"{}", {})

    def test_needs_a_key(self) -> None:
        with self.assertRaises(ValueError):
            asgi.DryRunMiddleware(lambda *a: None, key="")


def _wsgi_call(app, method: str, path: str, body: bytes, headers: dict) -> tuple:
    environ = {"REQUEST_METHOD": method, "PATH_INFO": path.split("?")[0], "SCRIPT_NAME": "",
               "QUERY_STRING": path.split("?", 1)[1] if "?" in path else "", "CONTENT_LENGTH": str(len(body)),
               "wsgi.input": io.BytesIO(body)}
    environ.update({"HTTP_" + k.upper().replace("-", "_"): v for k, v in headers.items()})
    got = {}

    def start_response(status, headers_, exc_info=None):
        got["status"], got["headers"] = int(status.split()[0]), dict(headers_)

    result = app(environ, start_response)
    content = b"".join(result)
    if hasattr(result, "close"):
        result.close()
    return got["status"], got["headers"], content


class WsgiMiddlewareTest(unittest.TestCase):
    def setUp(self) -> None:
        self.ran = []

        def app(environ, start_response):
            self.ran.append((wsgi.is_dry_run(environ), scope.is_dry_run(), environ["wsgi.input"].read()))
            start_response("201 Created", [("Content-Type", "text/plain")])
            return [b"made"]

        self.mw = wsgi.DryRunMiddleware(app, key=KEY)

    def test_signed_forged_replayed_probe(self) -> None:
        sig = protocol.sign(KEY, "POST", "/appointments", b"{}")
        status, headers, body = _wsgi_call(self.mw, "POST", "/appointments", b"{}", {HEADER: sig})
        self.assertEqual((status, body), (201, b"made"))
        self.assertTrue(protocol.ack_valid(KEY, sig, 201, headers[ACK_HEADER]))
        self.assertEqual(_wsgi_call(self.mw, "POST", "/appointments", b"{}", {HEADER: sig})[0], 403)  # replayed
        forged = sig[:-4] + "0000"
        self.assertEqual(_wsgi_call(self.mw, "POST", "/appointments", b"{}", {HEADER: forged})[0], 403)
        self.assertEqual(_wsgi_call(self.mw, "POST", "/appointments", b"{}", {})[0], 201)
        self.assertEqual(self.ran, [(True, True, b"{}"), (False, False, b"{}")])
        probe = protocol.sign(KEY, "POST", PROBE_PATH, b"")
        status, headers, _ = _wsgi_call(self.mw, "POST", PROBE_PATH, b"", {HEADER: probe})
        self.assertEqual(status, 200)
        self.assertTrue(protocol.ack_valid(KEY, probe, 200, headers[ACK_HEADER]))
        self.assertEqual(_wsgi_call(self.mw, "POST", PROBE_PATH, b"", {})[0], 403)


if __name__ == "__main__":
    unittest.main()
