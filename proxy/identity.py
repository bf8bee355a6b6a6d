"""Remote identity, the façade's pure parts (no mitmproxy): the credential cache and the headers a request or
a shadow copy carries to each side (docs/identity.md; the addon is proxy/addons/identity.py).

Why here and not in the addon: the shadow worker (proxy/shadow/engine.py) signs each copy's own header with
the same rules and must not import mitmproxy. The wire format is strangler_app.identity's, the one definition.
"""
from __future__ import annotations

import hashlib
import os
import re
import time
from collections import OrderedDict
from dataclasses import dataclass

from strangler_app.identity import HEADER, KEY_ENV, REQUEST_HEADER, Principal, check_key, sign

IDENTITY_META = "strangler_identity"  # flow.metadata: Carried, for shadow copies and the access log
CREDENTIAL_HEADERS = frozenset({"cookie", "authorization"})
_SEAM_HEADERS = frozenset({HEADER.lower(), REQUEST_HEADER.lower()})
HEADER_TTL_S = 30.0
# a logout path: logout, log-out, log_out, signout, sign-out, sign_out (any case; one C search per response)
LOGOUT_PATH = re.compile(rb"(?:log|sign)[-_]?out", re.IGNORECASE)


def credential_hash(cookie: bytes, authorization: bytes) -> str:
    """The cache key: SHA-256 of the caller's credential (the raw values are never kept)."""
    return hashlib.sha256(b"%s\0%s" % (cookie, authorization)).hexdigest()


@dataclass(frozen=True, slots=True)
class Carried:
    """What a resolved request carries to the shadow copies: the principal (as the endpoint answered it) and the
    credential fields removed from the served request (a copy to legacy gets them back). Plain data: it
    crosses the pipe to the shadow worker inside the Job."""

    principal: Principal
    removed: tuple[tuple[str, str], ...] = ()

    @property
    def status(self) -> str:
        """user | anonymous: how the façade saw the caller (the parity cause grouping, proxy/parity/causes.py)."""
        return "anonymous" if self.principal.anonymous else "user"


class IdentityCache:
    """Bounded LRU of resolved principals: credential hash -> {variant (source, session keys) -> (principal,
    expires)}. A logout drops every variant of one credential; the oldest credential goes when full."""

    def __init__(self, max_entries: int = 10000) -> None:
        self.max_entries = max_entries
        self._items: OrderedDict[str, dict[tuple, tuple[Principal, float]]] = OrderedDict()

    def get(self, cred: str, variant: tuple, now: float | None = None) -> Principal | None:
        entry = self._items.get(cred)
        if entry is None:
            return None
        found = entry.get(variant)
        if found is None:
            return None
        if found[1] <= (time.monotonic() if now is None else now):
            del entry[variant]
            if not entry:
                del self._items[cred]
            return None
        self._items.move_to_end(cred)
        return found[0]

    def put(self, cred: str, variant: tuple, principal: Principal, ttl_s: float, now: float | None = None) -> None:
        if ttl_s <= 0:
            return
        entry = self._items.get(cred)
        if entry is None:
            entry = self._items[cred] = {}
            while len(self._items) > self.max_entries:
                self._items.popitem(last=False)
        else:
            self._items.move_to_end(cred)
        entry[variant] = (principal, (time.monotonic() if now is None else now) + ttl_s)

    def invalidate(self, cred: str) -> bool:
        return self._items.pop(cred, None) is not None

    def clear(self) -> None:
        self._items.clear()

    def __len__(self) -> int:
        return len(self._items)


def clears_cookie(set_cookie: bytes) -> bool:
    """A Set-Cookie that deletes its cookie (Max-Age=0 / an expiry in 1970 / an empty value): a logout."""
    low = set_cookie.lower()
    if b"max-age=0" in low or b"expires=thu, 01 jan 1970" in low or b"expires=thu, 01-jan-1970" in low:
        return True
    name_value = low.split(b";", 1)[0]
    return name_value.endswith(b"=") or name_value.endswith(b'=""')


_key_cache: dict[str, str] = {}


def env_key() -> str:
    """STRANGLER_IDENTITY_KEY (checked; "" when unset or short — the caller says what that means)."""
    value = os.environ.get(KEY_ENV, "")
    if value not in _key_cache:
        try:
            check_key(value)
            _key_cache[value] = value
        except ValueError:
            _key_cache[value] = ""
    return _key_cache[value]


def copy_headers(headers: list[tuple[str, str]], carried: Carried, key: str, *, method: str, path: str,
                 to_legacy: bool, forward_credentials: bool) -> list[tuple[str, str]]:
    """A shadow copy's headers: its own signed identity (bound to the copy's method and path), the caller's
    credential only towards legacy (or with forward_credentials), never a client-supplied identity header."""
    keep_credentials = to_legacy or forward_credentials
    out = [(k, v) for k, v in headers
           if k.lower() not in _SEAM_HEADERS and (keep_credentials or k.lower() not in CREDENTIAL_HEADERS)]
    if keep_credentials:
        present = {k.lower() for k, _ in out}
        out += [(k, v) for k, v in carried.removed if k.lower() not in present]
    if key:
        out.append((HEADER, sign(key, carried.principal, method=method, path=path, ttl_s=HEADER_TTL_S)))
    return out
