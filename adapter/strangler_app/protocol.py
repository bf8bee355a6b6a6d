"""The dry-run protocol: the ONE definition of the signed shadow header, the acknowledgement and replay guard.

Why signed: in shadow mode the façade sends a *copy* of a legacy write to a new service, which must run it
as a dry run (transaction rolled back). A plain flag could be set by any client to make a real write vanish,
so the flag is a signature only holders of the shared key (STRANGLER_SHADOW_KEY) can produce, bound to this
exact request, a 30 s window and a one-time nonce. Why an acknowledgement: a service that ignores the
protocol would commit the copy and answer as usual; the façade can only tell the difference if the service
proves it understood, with a MAC over the request's signature that needs the same key.

Request header (version 2)::

    X-Strangler-Shadow: t=<unix seconds>,n=<nonce: 32 hex>,v2=<hex HMAC-SHA256>
    message = "v2\\n" + t + "\\n" + nonce + "\\n" + METHOD + "\\n" + <path with query, as sent>
              + "\\n" + <hex SHA-256 of the raw body>

Answer header::

    X-Strangler-Dry-Run-Ack: v1=<hex HMAC-SHA256(key, "ack\\n" + <X-Strangler-Shadow value> + "\\n" + <status>)>

Standard library only, Python >= 3.8.
"""
from __future__ import annotations

import hashlib
import hmac
import os
import re
import threading
import time
from collections import OrderedDict
from typing import Dict, Optional, Tuple, Union

HEADER = "X-Strangler-Shadow"
ACK_HEADER = "X-Strangler-Dry-Run-Ack"
DRY_RUN_RESPONSE_HEADER = "X-Strangler-Dry-Run"  # informational "1"; only the ack proves anything
PROBE_PATH = "/__strangler/dry-run-probe"
KEY_ENV = "STRANGLER_SHADOW_KEY"
DEFAULT_WINDOW_S = 30.0
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_VERSION = "v2"
_ACK_VERSION = "v1"
_NONCE = re.compile(r"^[0-9a-f]{16,64}$")
_HEX = re.compile(r"^[0-9a-f]{64}$")

# verdicts of check(); "valid" is the only one that makes a dry run
ABSENT, VALID, INVALID, REPLAYED = "absent", "valid", "invalid", "replayed"

Key = Union[str, bytes]


def _as_bytes(value: Key) -> bytes:
    return value.encode("utf-8") if isinstance(value, str) else value


def _hmac(key: Key, message: str) -> str:
    return hmac.new(_as_bytes(key), message.encode("utf-8"), hashlib.sha256).hexdigest()


def _mac(key: Key, method: str, path_with_query: str, body: bytes, ts: int, nonce: str) -> str:
    digest = hashlib.sha256(body or b"").hexdigest()
    return _hmac(key, "\n".join((_VERSION, str(ts), nonce, method.upper(), path_with_query, digest)))


def sign(key: Key, method: str, path_with_query: str, body: Optional[bytes] = b"", ts: Optional[float] = None,
         nonce: Optional[str] = None) -> str:
    """Header value for a request; `ts` defaults to now, `nonce` to 16 random bytes."""
    if not key:
        raise ValueError("shadow signing key is empty. Fix: set %s (the same value for the façade and the "
                         "services)" % KEY_ENV)
    stamp = int(time.time() if ts is None else ts)
    once = nonce if nonce is not None else os.urandom(16).hex()
    return "t=%d,n=%s,%s=%s" % (stamp, once, _VERSION, _mac(key, method, path_with_query, body or b"", stamp, once))


def parse(header_value: str) -> Optional[Tuple[int, str, str]]:
    """(timestamp, nonce, mac) from a header value, or None when it is malformed."""
    fields: Dict[str, str] = {}
    for part in header_value.split(","):
        name, sep, value = part.strip().partition("=")
        if not sep or name in fields:
            return None
        fields[name] = value
    stamp, nonce, mac = fields.get("t"), fields.get("n"), fields.get(_VERSION)
    if stamp is None or nonce is None or mac is None or not stamp.isdigit() or len(stamp) > 12:
        return None
    if not _NONCE.match(nonce) or not _HEX.match(mac):
        return None
    return int(stamp), nonce, mac


def verify(key: Key, method: str, path_with_query: str, body: Optional[bytes], header_value: Optional[str],
           now: Optional[float] = None, window_s: float = DEFAULT_WINDOW_S) -> bool:
    """True only for a well-formed, fresh header whose MAC matches this method, path and body (no replay
    check: that needs state, see ReplayGuard and check())."""
    if not key or not header_value:
        return False
    parsed = parse(header_value)
    if parsed is None:
        return False
    stamp, nonce, mac = parsed
    current = time.time() if now is None else now
    if abs(current - stamp) > window_s:
        return False
    expected = _mac(key, method, path_with_query, body or b"", stamp, nonce)
    return hmac.compare_digest(expected, mac)


class ReplayGuard:
    """Nonces seen within the signature window, bounded: a signature is accepted once. Entries expire when
    their signature would be stale anyway; when `max_entries` fresh nonces are held, new ones are refused
    (fail closed) rather than forgetting one that could then be replayed. Thread-safe. Per process: with
    several worker processes a replay can reach another one, where it runs as one more dry run (never as a
    real write)."""

    def __init__(self, window_s: float = DEFAULT_WINDOW_S, max_entries: int = 100000):
        self.window_s, self.max_entries = window_s, max_entries
        self._seen: OrderedDict[str, float] = OrderedDict()
        self._lock = threading.Lock()

    def first_use(self, nonce: str, ts: int, now: Optional[float] = None) -> bool:
        """True (and remembered) the first time a nonce is presented within its window."""
        current = time.time() if now is None else now
        with self._lock:
            while self._seen:
                oldest, expires = next(iter(self._seen.items()))
                if expires > current:
                    break
                del self._seen[oldest]
            if nonce in self._seen or len(self._seen) >= self.max_entries:
                return False
            self._seen[nonce] = max(ts, current) + self.window_s
            return True

    def __len__(self) -> int:
        return len(self._seen)


def check(key: Key, method: str, path_with_query: str, body: Optional[bytes], header_value: Optional[str],
          guard: ReplayGuard, now: Optional[float] = None) -> str:
    """ABSENT (no header), VALID (fresh, MAC matches, nonce first seen), INVALID or REPLAYED."""
    if header_value is None:
        return ABSENT
    if not verify(key, method, path_with_query, body, header_value, now=now, window_s=guard.window_s):
        return INVALID
    stamp, nonce, _ = parse(header_value)  # type: ignore[misc]  # verify() parsed it
    return VALID if guard.first_use(nonce, stamp, now=now) else REPLAYED


def ack(key: Key, signature: str, status: int) -> str:
    """Acknowledgement header value for the answer to a signed request."""
    return "%s=%s" % (_ACK_VERSION, _hmac(key, "ack\n%s\n%d" % (signature, int(status))))


def ack_valid(key: Key, signature: str, status: int, header_value: Optional[str]) -> bool:
    """True when `header_value` acknowledges `signature` with this status (constant-time compare)."""
    if not key or not header_value:
        return False
    return hmac.compare_digest(ack(key, signature, status), header_value.strip())


def refusal(verdict: str) -> str:
    """The body (text) of the 403 a refused signature gets: what happened and the fix."""
    if verdict == ABSENT:
        return ("unsigned request to the dry-run probe. Fix: only the strangler façade calls %s, with an %s "
                "header signed by %s" % (PROBE_PATH, HEADER, KEY_ENV))
    if verdict == REPLAYED:
        return "replayed %s signature refused: each signature is accepted once" % HEADER
    return ("forged, stale or malformed %s signature refused. Fix: the façade and this service must share %s, "
            "and their clocks must agree within %g s" % (HEADER, KEY_ENV, DEFAULT_WINDOW_S))
