"""Canary cohorts in nginx: `split_clients` (MurmurHash2) over the same cohort key string as the façade.

proxy/cohort.py buckets users with the same MurmurHash2 and the same cut, so nginx and the façade put exactly
the same users on each side at every percentage. `nginx_in_target` reproduces nginx's own decision bit for bit
(tests check it against a real nginx and against the façade's bucket).
"""
from __future__ import annotations

import math

from proxy.cohort import _MASK, murmur2


def hundredths(percent: float) -> int:
    """The façade's share in 0.01 % units: buckets b < percent*100 are in, so a fraction rounds UP."""
    return max(0, min(10_000, math.ceil(round(percent * 100, 6))))


def nginx_in_target(key: str, percent: float) -> bool:
    """True when nginx's `split_clients "<key>" { P% t; * l; }` puts this key in the first part."""
    h = hundredths(percent)
    if h >= 10_000:
        return True
    boundary = h * _MASK // 10_000
    return murmur2(key.encode("utf-8")) < boundary


def percent_label(percent: float) -> str:
    """split_clients percentage text for the façade's share, e.g. 12.5 -> '12.50%'."""
    h = hundredths(percent)
    return f"{h // 100}.{h % 100:02d}%"
