"""Canary cohorts: a stable bucket 0..9999 per user, so a user's side never flickers between requests.

The bucket comes from a keyed-free stable hash (blake2b) of the cohort key — never Python's `hash()`,
which is randomised per process. The same bucket is used for every feature, so one user is on the same side
everywhere at the same percentage, and raising a percentage only adds buckets (moves users legacy -> new).
"""
from __future__ import annotations

from hashlib import blake2b
from http.cookies import CookieError, SimpleCookie

from proxy.table import CohortConfig

BUCKETS = 10_000


def bucket(key: str) -> int:
    """Stable bucket in [0, 10000) for a cohort key."""
    digest = blake2b(key.encode("utf-8", "surrogatepass"), digest_size=8).digest()
    return int.from_bytes(digest, "big") % BUCKETS


def in_target(bucket_no: int, percent: float) -> bool:
    """True when this bucket is served by the target at `percent` (0..100, fractions allowed)."""
    return bucket_no < percent * (BUCKETS // 100)


def cohort_key(config: CohortConfig, headers, client_address: str) -> str:
    """The configured header's value, else the configured cookie's value, else the client address.

    `headers` is any case-insensitive mapping with `.get` (mitmproxy Headers, httpx Headers...).
    """
    if config.header:
        value = headers.get(config.header)
        if value:
            return "h:" + value.strip()
    if config.cookie:
        raw = headers.get("cookie")
        if raw:
            value = _cookie(raw, config.cookie)
            if value:
                return "c:" + value
    return "a:" + client_address


def _cookie(raw: str, name: str) -> str | None:
    try:
        jar = SimpleCookie()
        jar.load(raw)
    except CookieError:
        return None
    morsel = jar.get(name)
    return morsel.value if morsel is not None and morsel.value else None
