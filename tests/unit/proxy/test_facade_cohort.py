"""Cohorts: stable across processes, monotonic in the percentage, header > cookie > client address."""
from __future__ import annotations

import os
import subprocess
import sys

from hypothesis import given
from hypothesis import strategies as st
from mitmproxy.http import Headers

from proxy.cohort import BUCKETS, bucket, cohort_key, in_target
from proxy.table import CohortConfig


@given(st.text(min_size=1, max_size=40), st.floats(0, 100), st.floats(0, 100))
def test_raising_percentage_only_moves_users_to_the_target(key, p1, p2):
    low, high = sorted((p1, p2))
    b = bucket(key)
    assert 0 <= b < BUCKETS
    if in_target(b, low):
        assert in_target(b, high)


@given(st.text(min_size=1, max_size=40))
def test_bounds_everyone_or_no_one(key):
    assert in_target(bucket(key), 100) and not in_target(bucket(key), 0)


def test_bucket_is_stable_across_processes_with_different_hash_seeds():
    keys = ["alice", "bob", "10.0.0.1", "ünïcode"]
    code = f"from proxy.cohort import bucket; print([bucket(k) for k in {keys!r}])"
    outs = {subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                           env={**os.environ, "PYTHONHASHSEED": seed}).stdout for seed in ("1", "2")}
    assert len(outs) == 1 and outs.pop().strip() == str([bucket(k) for k in keys])


def test_percentage_is_roughly_the_share_of_users():
    share = sum(in_target(bucket(f"user-{i}"), 30) for i in range(20_000)) / 20_000
    assert 0.28 < share < 0.32


def test_key_prefers_header_then_cookie_then_address():
    cfg = CohortConfig(header="X-Cohort", cookie="sid")
    both = Headers(x_cohort="u1", cookie="sid=s1; other=x")
    assert cohort_key(cfg, both, "1.2.3.4") == "h:u1"
    assert cohort_key(cfg, Headers(cookie="other=x; sid=s1"), "1.2.3.4") == "c:s1"
    assert cohort_key(cfg, Headers(), "1.2.3.4") == "a:1.2.3.4"
    assert cohort_key(CohortConfig(header=None, cookie=None), both, "1.2.3.4") == "a:1.2.3.4"
