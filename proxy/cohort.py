"""Canary cohorts: a stable bucket 0..9999 per user, so a user's side never flickers between requests.

The bucket comes from MurmurHash2 of the cohort key — the hash nginx's `split_clients` uses — cut the way
split_clients cuts it, so the façade and an exported nginx (`strangler export nginx`) put exactly the same
users on the same side. Never Python's `hash()`, which is randomised per process. The same bucket is used for
every feature, so one user is on the same side everywhere at the same percentage, and raising a percentage only
adds buckets (moves users legacy -> new).
"""
from __future__ import annotations

from functools import lru_cache
from http.cookies import CookieError, SimpleCookie

from proxy.table import CohortConfig

BUCKETS = 10_000
_M = 0x5BD1E995
_MASK = 0xFFFFFFFF


def murmur2(data: bytes) -> int:
    """nginx's ngx_murmur_hash2 (seed = length), 32-bit."""
    h = len(data) & _MASK
    n = len(data) - len(data) % 4
    for i in range(0, n, 4):
        k = (int.from_bytes(data[i:i + 4], "little") * _M) & _MASK
        k ^= k >> 24
        h = ((h * _M) & _MASK) ^ ((k * _M) & _MASK)
    tail = data[n:]
    if tail:
        for i in range(len(tail) - 1, -1, -1):
            h ^= tail[i] << (8 * i)
        h = (h * _M) & _MASK
    h ^= h >> 13
    h = (h * _M) & _MASK
    return h ^ (h >> 15)


def _boundary(hundredths: int) -> int:
    """split_clients' cut for a share of `hundredths` (0.01 % units): hashes below it are in the share."""
    return hundredths * _MASK // BUCKETS


@lru_cache(maxsize=1 << 16)  # a user's requests repeat the key: hash it once
def bucket(key: str) -> int:
    """Stable bucket in [0, 10000): the largest share h with boundary(h) <= hash, so that
    `bucket < h` is exactly nginx's `hash < boundary(h)` for every share h."""
    value = murmur2(key.encode("utf-8", "surrogatepass"))
    b = min(value * BUCKETS // _MASK, BUCKETS - 1)
    while b + 1 < BUCKETS and _boundary(b + 1) <= value:
        b += 1
    while b > 0 and _boundary(b) > value:
        b -= 1
    return b


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
