"""Things that happen to a running façade while clients keep calling it, each returning its figures.

Every episode is bounded (a request budget per client thread and a time budget) and works on any façade:
it gets the URL, a request mix, and callables for what it must do to the stack (flip, read the admin API).
"""
from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import httpx

from load.reliability.probes import break_table
from load.reliability.stack import DemoStack, rss_kib, wait_until
from load.reliability.traffic import Load, Mix, reads_of, seeded_password

AdminGet = Callable[[str], httpx.Response]
Flip = Callable[[str, float | None], None]
LADDER: tuple[tuple[str, float | None], ...] = (("shadow", None), ("canary", 30), ("new", None), ("canary", 70),
                                                ("legacy", None))


def flips_under_load(url: str, mix: Mix, flip: Flip, *, flips: int, threads: int = 4,
                     max_seconds: float = 120, password: str | None = None) -> dict:
    """`flips` flips round the ladder while `threads` clients run the mix; every request must succeed.
    `password` (seeded_password): the clients log in, so orders are served to logged-in customers."""
    with Load(url, mix, threads=threads, max_seconds=max_seconds, password=password) as load:
        time.sleep(0.3)
        started, done = time.monotonic(), 0
        while done < flips and load.now() < max_seconds - 1:
            flip(*LADDER[done % len(LADDER)])
            done += 1
        flip_s = time.monotonic() - started
        time.sleep(0.3)
    return {**load.summary(), "flips": done, "flip_seconds": round(flip_s, 2)}


def broken_table_under_load(url: str, routes: Path, mix: Mix, admin_get: AdminGet, *, threads: int = 4,
                            hold_s: float = 2.0, max_seconds: float = 60, password: str | None = None) -> dict:
    """Invalid YAML over the live table while clients run; the last good table must keep serving them, and
    reverting the edit byte for byte must clear the reported error (the table in force is the file again)."""
    with Load(url, mix, threads=threads, max_seconds=max_seconds, password=password) as load:
        time.sleep(0.5)
        good = break_table(routes)
        try:
            seen = wait_until(lambda: admin_get("/routes").json()["last_error"], 20, "the façade reporting the "
                              "broken table")
            time.sleep(hold_s)
        finally:
            routes.write_text(good)
        wait_until(lambda: admin_get("/routes").json()["last_error"] is None, 20, "the façade clearing the error "
                   "after the revert")
        time.sleep(0.5)
    return {**load.summary(), "reported": str(seen).splitlines()[0][:160]}


def killed_service(stack: DemoStack, feature: str = "catalog", *, threads: int = 4, warm_s: float = 2.0,
                   down_s: float = 8.0, max_seconds: float = 90) -> dict:
    """SIGKILL a feature's service while clients read it (feature in `new`); restart it after `down_s`.
    Figures: failures and failures/s from the kill until the first fallback answer (the breaker open),
    failures while it was down after that (half-open probes), failures in each second from the kill until
    it serves again, and seconds from the restarted service being healthy until it serves again."""
    stack.flip(feature, "new")
    path = {"catalog": "/api/products/{n}", "orders": "/api/orders/{n}"}[feature]
    with Load(stack.url(), reads_of(path), threads=threads, max_seconds=max_seconds,
              password=seeded_password(stack.var) if feature == "orders" else None) as load:
        time.sleep(warm_s)
        killed_at = load.now()
        stack.kill(feature)
        time.sleep(down_s)
        stack.restart(feature)
        healthy_at = load.now()
        wait_until(lambda: any(r.served_by == feature and r.t > healthy_at for r in load.snapshot()),
                   max_seconds, f"{feature} serving again")
        back_at = next(r.t for r in load.snapshot() if r.served_by == feature and r.t > healthy_at)
    after = [r for r in load.snapshot() if r.t >= killed_at]
    opened_at = next((r.t for r in after if r.served_by == "legacy" and not r.failed), None)
    before_open = [r for r in after if r.failed and (opened_at is None or r.t <= opened_at)]
    window = (opened_at or after[-1].t) - killed_at
    each_second = [0] * (int(back_at - killed_at) + 1)
    for r in after:
        if r.failed and r.t <= back_at:
            each_second[int(r.t - killed_at)] += 1
    return {**load.summary(), "failed_until_open": len(before_open), "seconds_to_open": round(window, 3),
            "failures_per_second_until_open": round(len(before_open) / window, 1) if window > 0 else None,
            "failed_while_open": sum(r.failed for r in after if opened_at is not None and opened_at < r.t < back_at),
            "seconds_to_recover": round(back_at - healthy_at, 3), "failures_each_second": each_second,
            "opened": opened_at is not None}


def soak(stack: DemoStack, mix: Mix, *, seconds: float, warm_s: float = 10.0, threads: int = 4) -> dict:
    """RSS of the façade (mitmdump) and of its shadow workers (summed) after `warm_s` and at the end of the soak."""
    facade, workers = stack.proc("facade").proc.pid, stack.shadow_worker_pids()
    with Load(stack.url(), mix, threads=threads, max_requests=10**7, max_seconds=warm_s + seconds + 30,
              password=seeded_password(stack.var)) as load:
        time.sleep(warm_s)
        first = {"facade": rss_kib(facade), "shadow_worker": sum(rss_kib(w) for w in workers)}
        time.sleep(seconds)
        last = {"facade": rss_kib(facade), "shadow_worker": sum(rss_kib(w) for w in workers)}
    growth = {k: round(100.0 * (last[k] - first[k]) / first[k], 2) for k in first}
    return {**load.summary(), "rss_kib_start": first, "rss_kib_end": last, "rss_growth_percent": growth,
            "soak_seconds": seconds}
