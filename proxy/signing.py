"""HMAC signature of shadowed write requests (header ``X-Strangler-Shadow``).

Why: in shadow mode the façade sends a *copy* of a legacy write to a new service. The service must run that
copy as a dry run (transaction rolled back) — but only when the copy really comes from the façade. A plain
header flag could be set by any client to make a real write silently vanish, so the flag is a signature
that only holders of ``STRANGLER_SHADOW_KEY`` can produce, bound to this exact request and to a short
time window (a captured header cannot be replayed later or onto another request).

Scheme (version 1)::

    X-Strangler-Shadow: t=<unix seconds>,v1=<hex HMAC-SHA256>

    message = "v1\\n" + <unix seconds> + "\\n" + <METHOD upper-case> + "\\n" + <path with query, as sent>
              + "\\n" + <hex SHA-256 of the raw body bytes>
    HMAC-SHA256(key = UTF-8 bytes of STRANGLER_SHADOW_KEY, message as UTF-8)

``verify`` accepts the header only if it parses, the timestamp lies within ``window_s`` seconds of now
(either direction, to tolerate small clock skew) and the MAC matches (constant-time compare). Anything else
— missing, malformed, stale, forged, or signed for another method/path/body — returns ``False``; the caller
then treats the request as an ordinary one. Pure standard library: no mitmproxy import, so services and
the façade share it.
"""
from __future__ import annotations

import hashlib
import hmac
import time

HEADER = "X-Strangler-Shadow"
DRY_RUN_RESPONSE_HEADER = "X-Strangler-Dry-Run"
DEFAULT_WINDOW_S = 30.0
_VERSION = "v1"


def _as_bytes(value: str | bytes) -> bytes:
    return value.encode("utf-8") if isinstance(value, str) else value


def _mac(key: str | bytes, method: str, path_with_query: str, body: bytes, ts: int) -> str:
    body_digest = hashlib.sha256(body or b"").hexdigest()
    message = "\n".join((_VERSION, str(ts), method.upper(), path_with_query, body_digest))
    return hmac.new(_as_bytes(key), message.encode("utf-8"), hashlib.sha256).hexdigest()


def sign(key: str | bytes, method: str, path_with_query: str, body: bytes | None = b"",
         ts: float | None = None) -> str:
    """Header value for a request; ``ts`` defaults to now (whole seconds)."""
    if not key:
        raise ValueError("shadow signing key is empty; set STRANGLER_SHADOW_KEY")
    stamp = int(time.time() if ts is None else ts)
    return f"t={stamp},{_VERSION}={_mac(key, method, path_with_query, body or b'', stamp)}"


def parse(header_value: str) -> tuple[int, str] | None:
    """(timestamp, mac) from a header value, or None when it is malformed."""
    fields: dict[str, str] = {}
    for part in header_value.split(","):
        name, sep, value = part.strip().partition("=")
        if not sep:
            return None
        fields[name] = value
    stamp, mac = fields.get("t"), fields.get(_VERSION)
    if stamp is None or mac is None or not stamp.isdigit() or len(stamp) > 12:
        return None
    return int(stamp), mac


def verify(key: str | bytes, method: str, path_with_query: str, body: bytes | None, header_value: str | None,
           *, now: float | None = None, window_s: float = DEFAULT_WINDOW_S) -> bool:
    """True only for a well-formed, fresh header whose MAC matches this method, path and body."""
    if not key or not header_value:
        return False
    parsed = parse(header_value)
    if parsed is None:
        return False
    stamp, mac = parsed
    current = time.time() if now is None else now
    if abs(current - stamp) > window_s:
        return False
    expected = _mac(key, method, path_with_query, body or b"", stamp)
    return hmac.compare_digest(expected.encode("ascii"), mac.encode("ascii", errors="replace"))
