"""Identity across the seam: the ONE definition of the signed identity header and the endpoint proof.

Why: once a feature moves to a new service, the monolith's session cookie or token means nothing there. The
façade asks the monolith who the caller is (strangler_app.flask_identity serves the endpoint) and sends the
service a signed statement of it; the service (strangler_app.fastapi_identity) trusts only that signature.

Identity header (version 1)::

    X-Strangler-Identity: v1.<b64url(JSON payload)>.<b64url(HMAC-SHA256(key, "v1." + payload_b64))>
    payload keys: sub (user id or null), name, roles, claims, session, iat, exp (unix seconds), nonce (32 hex),
                  m (METHOD), p (path, no query)

It is bound to one request (method + path), short-lived (`exp`), and accepted once per process (`nonce`):
a header copied from one request cannot vouch for another. Endpoint proof (façade -> monolith)::

    X-Strangler-Identity-Request: t=<unix seconds>,v1=<hex HMAC-SHA256(key, "identity-request\\n" + t)>

Key: STRANGLER_IDENTITY_KEY (>= 32 characters, no default). Standard library only, Python >= 3.8.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
import re
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Dict, Mapping, Optional, Tuple, Union

HEADER = "X-Strangler-Identity"
KEY_ENV = "STRANGLER_IDENTITY_KEY"
ENDPOINT = "/__strangler/identity"
REQUEST_HEADER = "X-Strangler-Identity-Request"
MIN_KEY_CHARS = 32
PROOF_WINDOW_S = 30.0
CLOCK_SKEW_S = 30.0
MAX_HEADER_CHARS = 16384
_VERSION = "v1"
_NONCE = re.compile(r"^[0-9a-f]{32}$")
_PROOF = re.compile(r"^t=([0-9]{1,12}),v1=([0-9a-f]{64})$")

Key = Union[str, bytes]


class IdentityError(ValueError):
    """A refused identity header; the message is the reason (safe to log: it never holds the value)."""


@dataclass(frozen=True)
class Principal:
    """Who the caller is, as the monolith sees it. `user_id` None = anonymous; `session` holds only the
    legacy-session keys the feature whitelisted (read-only)."""

    user_id: Optional[str]
    name: Optional[str] = None
    roles: Tuple[str, ...] = ()
    claims: Mapping[str, Any] = field(default_factory=dict)
    session: Mapping[str, Any] = field(default_factory=dict)

    @property
    def anonymous(self) -> bool:
        return self.user_id is None

    @cached_property
    def wire(self) -> str:
        """The principal's part of the header payload (JSON members, no braces), serialised once."""
        return json.dumps({"sub": self.user_id, "name": self.name, "roles": list(self.roles),
                           "claims": dict(self.claims), "session": dict(self.session)},
                          separators=(",", ":"), sort_keys=True)[1:-1]

    def to_json(self) -> Dict[str, Any]:
        """The endpoint's answer shape (and the payload's identity part)."""
        return {"user_id": self.user_id, "name": self.name, "roles": list(self.roles), "claims": dict(self.claims),
                "session": dict(self.session)}

    @classmethod
    def from_json(cls, data: Any) -> Principal:
        """From the endpoint's answer; raises IdentityError for anything not of that shape."""
        if not isinstance(data, dict):
            raise IdentityError("identity answer is not a JSON object")
        uid, name = data.get("user_id"), data.get("name")
        roles, claims, session = (data.get(k) for k in ("roles", "claims", "session"))
        roles, claims, session = roles if roles is not None else [], claims if claims is not None else {}, \
            session if session is not None else {}
        if isinstance(uid, bool) or (uid is not None and not isinstance(uid, (str, int))):
            raise IdentityError("identity answer: user_id must be a string, a number or null")
        if name is not None and not isinstance(name, str):
            raise IdentityError("identity answer: name must be a string or null")
        if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
            raise IdentityError("identity answer: roles must be a list of strings")
        if not isinstance(claims, dict) or not isinstance(session, dict):
            raise IdentityError("identity answer: claims and session must be objects")
        return cls(None if uid is None else str(uid), name if uid is not None else None,
                   tuple(roles) if uid is not None else (), claims if uid is not None else {}, session)


ANONYMOUS = Principal(None)


def check_key(key: Optional[Key]) -> bytes:
    """The key as bytes; raises ValueError (a startup error) when it is missing or short."""
    raw = key.encode("utf-8") if isinstance(key, str) else (key or b"")
    if len(raw) < MIN_KEY_CHARS:
        raise ValueError("%s is %s. Fix: set %s to the same random value (>= %d characters, e.g. "
                         "`python -c 'import secrets; print(secrets.token_urlsafe(32))'`) for the façade, the "
                         "monolith and the services" % (KEY_ENV, "not set" if not raw else "shorter than %d "
                         "characters" % MIN_KEY_CHARS, KEY_ENV, MIN_KEY_CHARS))
    return raw


def key_from_env(environ: Optional[Mapping[str, str]] = None) -> str:
    """STRANGLER_IDENTITY_KEY from the environment, checked (no default anywhere)."""
    value = (os.environ if environ is None else environ).get(KEY_ENV, "")
    check_key(value)
    return value


_URLSAFE = bytes.maketrans(b"+/", b"-_")


def _b64(data: bytes) -> str:
    """base64url without padding (binascii directly: base64.urlsafe_b64encode is two Python calls more)."""
    return binascii.b2a_base64(data, newline=False).translate(_URLSAFE).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class _Mac:
    """HMAC-SHA256(key, "v1." + payload_b64) for one checked key: the keyed state (key blocks and the "v1."
    prefix already absorbed) is computed once and copied per header, instead of re-keying on every call.

    sign() goes one step further (the façade signs every request): a payload starts with what one principal,
    method and path always give, padded with JSON whitespace to a multiple of 3 bytes, so its base64url is a
    fixed prefix of the payload's and the state after absorbing it can be kept too. `_prefixes` maps (the
    principal's serialised JSON, METHOD, path) to (that base64url, that state): a key holds the principal's
    whole content, so two principals never share an entry. Per header only the tail (iat, exp, nonce) is
    encoded and hashed; the MAC is still over the whole payload, and verify() is unchanged."""

    __slots__ = ("_keyed", "_prefixes")

    def __init__(self, raw: bytes) -> None:
        self._keyed = hmac.new(raw, (_VERSION + ".").encode("ascii"), hashlib.sha256)
        self._prefixes: Dict[Tuple[str, str, str], Tuple[str, Any]] = {}

    def __call__(self, payload_b64: str) -> str:
        mac = self._keyed.copy()
        mac.update(payload_b64.encode("ascii"))
        return _b64(mac.digest())

    def prefix(self, principal: Principal, method: str, path: str) -> Tuple[str, Any]:
        """(base64url of the payload's fixed start, the MAC state after it) for this principal, method, path."""
        memo = (principal.wire, method, path)
        found = self._prefixes.get(memo)
        if found is None:
            start = ('{%s,"m":%s,"p":%s' % (principal.wire, _json_str(method), _json_str(path))).encode("utf-8")
            start += b" " * (-len(start) % 3)  # whitespace before the next ',' (JSON allows it): 3-byte groups
            encoded = _b64(start)
            state = self._keyed.copy()
            state.update(encoded.encode("ascii"))
            if len(self._prefixes) >= MAX_PREFIXES:  # bounded: many users x paths only cost a re-computation
                self._prefixes.clear()
            found = self._prefixes[memo] = (encoded, state)
        return found


MAX_PREFIXES = 4096


def _bare_path(path: str) -> str:
    return path.split("?", 1)[0] or "/"


class ReplayGuard:
    """Nonces seen until their header expires, bounded: when `max_entries` live nonces are held a new one is
    refused (fail closed) rather than forgetting one that could then be replayed. Thread-safe, per process."""

    def __init__(self, max_entries: int = 200000) -> None:
        self.max_entries = max_entries
        self._seen: OrderedDict[str, float] = OrderedDict()
        self._lock = threading.Lock()

    def first_use(self, nonce: str, exp: float, now: float) -> bool:
        with self._lock:
            while self._seen:  # oldest first (insertion order ~ expiry order: the façade's ttl is one value)
                oldest, expires = next(iter(self._seen.items()))
                if expires > now:
                    break
                del self._seen[oldest]
            if nonce in self._seen or len(self._seen) >= self.max_entries:
                return False
            self._seen[nonce] = exp + CLOCK_SKEW_S
            return True

    def __len__(self) -> int:
        return len(self._seen)


_GUARD = ReplayGuard()


def sign(key: Key, principal: Principal, *, method: str, path: str, ttl_s: float = 30.0,
         now: Optional[float] = None) -> str:
    """The header value stating `principal` for this one request (method + path without query)."""
    encoded, state = _mac_for(key).prefix(principal, method.upper(), _bare_path(path))
    current = time.time() if now is None else now
    tail = _b64(b',"iat":%d,"exp":%d,"nonce":"%s"}' % (int(current), int(current + ttl_s),
                                                        binascii.hexlify(os.urandom(16))))
    mac = state.copy()  # the payload's fixed start is absorbed already (_Mac.prefix)
    mac.update(tail.encode("ascii"))
    return "%s.%s%s.%s" % (_VERSION, encoded, tail, _b64(mac.digest()))


def _json_str(text: str) -> str:
    """A JSON string literal; the common case (a plain ASCII method or path) without the encoder."""
    if text.isascii() and text.isprintable() and '"' not in text and "\\" not in text:
        return '"%s"' % text
    return json.dumps(text)


_MACS: Dict[Key, _Mac] = {}


def _mac_for(key: Key) -> _Mac:
    """check_key and the keyed HMAC state, remembered for the few keys a process uses (a bounded memo: keys
    are configuration, not request data; a missing/short key raises ValueError every time)."""
    found = _MACS.get(key)
    if found is None:
        found = _Mac(check_key(key))
        if len(_MACS) < 16:
            _MACS[key] = found
    return found


def verify(key: Key, value: str, *, method: str, path: str, now: Optional[float] = None,
           guard: Optional[ReplayGuard] = None) -> Principal:
    """The principal a header states; raises IdentityError (bad format, bad MAC, other method/path, expired,
    replayed). The nonce is remembered in `guard` (the process-wide one by default)."""
    mac = _mac_for(key)
    if not value or len(value) > MAX_HEADER_CHARS:
        raise IdentityError("malformed identity header (empty or too long)")
    parts = value.strip().split(".")
    if len(parts) != 3 or parts[0] != _VERSION:
        raise IdentityError("malformed identity header (expected v1.<payload>.<mac>)")
    if not hmac.compare_digest(mac(parts[1]), parts[2]):
        raise IdentityError("identity header signature does not match (forged, or another key)")
    try:
        payload = json.loads(_unb64(parts[1]).decode("utf-8"))
        sub, iat, exp, nonce = payload["sub"], float(payload["iat"]), float(payload["exp"]), payload["nonce"]
        m, p = payload["m"], payload["p"]
    except (ValueError, KeyError, TypeError, binascii.Error, UnicodeDecodeError):
        raise IdentityError("malformed identity payload") from None
    if m != method.upper() or p != _bare_path(path):
        raise IdentityError("identity header was signed for another request (%s %s)" % (m, p))
    current = time.time() if now is None else now
    if current > exp:
        raise IdentityError("identity header expired")
    if iat > current + CLOCK_SKEW_S:
        raise IdentityError("identity header issued in the future (clocks disagree by > %g s)" % CLOCK_SKEW_S)
    if not isinstance(nonce, str) or not _NONCE.match(nonce):
        raise IdentityError("malformed identity payload (nonce)")
    if not (guard if guard is not None else _GUARD).first_use(nonce, exp, current):  # an empty guard is falsy
        raise IdentityError("replayed identity header (each one is accepted once)")
    return Principal.from_json({"user_id": sub, "name": payload.get("name"), "roles": payload.get("roles"),
                                "claims": payload.get("claims"), "session": payload.get("session")})


def request_proof(key: Key, now: Optional[float] = None) -> str:
    """The façade's proof on a call to ENDPOINT (only holders of the key can ask who a cookie belongs to)."""
    raw = check_key(key)
    stamp = int(time.time() if now is None else now)
    mac = hmac.new(raw, ("identity-request\n%d" % stamp).encode("ascii"), hashlib.sha256).hexdigest()
    return "t=%d,v1=%s" % (stamp, mac)


def check_request_proof(key: Key, value: Optional[str], now: Optional[float] = None) -> bool:
    """True for a proof made with `key` within ±30 s of now (constant-time compare)."""
    if not value:
        return False
    try:
        raw = check_key(key)
    except ValueError:
        return False
    found = _PROOF.match(value.strip())
    if found is None:
        return False
    stamp = int(found.group(1))
    current = time.time() if now is None else now
    if abs(current - stamp) > PROOF_WINDOW_S:
        return False
    expected = hmac.new(raw, ("identity-request\n%d" % stamp).encode("ascii"), hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, found.group(2))
