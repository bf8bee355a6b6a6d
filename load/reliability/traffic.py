"""Bounded mixed load through the façade, every answer recorded: a failure is a transport error or a 5xx.

Each client thread stops at its request budget, at the time budget or when asked, whichever comes first.
With the seeded customers' password (`seeded_password`), each client thread first logs in as its own seeded
customer (a per-thread session, as a browser has) and places its orders for that customer: orders need a
logged-in customer since issue 24.
The records (time, status, who served) are what the probes turn into figures: failures, failures per second
until the breaker opened, time until a service serves again.
"""
from __future__ import annotations

import os
import random
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Self

import httpx

from strangler.secrets import read_secrets

# (method, path, json body or None); `n` makes values unique per request
Request = tuple[str, str, dict | None]
Mix = Callable[[random.Random, int], Request]
PASSWORD_ENV = "LEGACY_SEED_PASSWORD"
LOGIN_CUSTOMERS = 50  # the demo mix's customers (ids within the small seed)


def seeded_password(var: Path) -> str | None:
    """The seeded demo customers' password: the environment's, else the stack's generated one."""
    return os.environ.get(PASSWORD_ENV) or read_secrets(var).get(PASSWORD_ENV)


def demo_mix(rng: random.Random, n: int) -> Request:
    """Reads and writes of the demo's catalog and orders features (ids within the small seed), 1 in 4 a write."""
    roll = rng.random()
    if roll < 0.08:
        return "POST", "/api/orders", {"CustomerId": str(rng.randint(1, 50)),
                                       "Lines": [{"ProductId": str(rng.randint(1, 200)), "Quantity": "1"}]}
    if roll < 0.16:
        return "PUT", f"/api/products/{rng.randint(1, 200)}", {"UnitPrice": f"{rng.randint(1, 500)}.{n % 100:02d}"}
    if roll < 0.25:
        return "POST", "/api/customers", {"Email": f"rel-{n}-{rng.randint(1, 10**9)}@example.test",
                                          "FirstName": "Rel", "LastName": f"User {n}"}
    if roll < 0.60:
        return "GET", f"/api/products/{rng.randint(1, 200)}", None
    if roll < 0.70:
        return "GET", f"/api/products?page={rng.randint(1, 4)}&page_size=20", None
    return "GET", f"/api/orders/{rng.randint(1, 200)}", None


def reads_of(path: str) -> Mix:
    """GETs of one path template with `{n}` filled in (e.g. "/api/products/{n}")."""
    return lambda rng, n: ("GET", path.format(n=rng.randint(1, 200)), None)


@dataclass
class Record:
    t: float  # seconds since the load started
    method: str
    path: str
    status: int  # 0 when the request failed below HTTP
    served_by: str
    error: str = ""

    @property
    def failed(self) -> bool:
        return self.status == 0 or self.status >= 500


@dataclass
class Load:
    """`with Load(url, mix) as load:` runs threads until the block ends (or a budget is spent)."""

    url: str
    mix: Mix
    threads: int = 4
    max_requests: int = 2000  # per thread
    max_seconds: float = 120.0
    timeout_s: float = 10.0
    headers: dict = field(default_factory=dict)
    password: str | None = None  # log each thread in as its own seeded customer (orders need a login)
    records: list[Record] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._workers = [threading.Thread(target=self._run, args=(i,), daemon=True) for i in range(self.threads)]
        self.started = 0.0

    def __enter__(self) -> Self:
        self.started = time.monotonic()
        for w in self._workers:
            w.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for w in self._workers:
            w.join(timeout=self.timeout_s + 5)

    def _run(self, index: int) -> None:
        rng = random.Random(index)
        deadline = self.started + self.max_seconds
        with httpx.Client(base_url=self.url, timeout=self.timeout_s, headers=self.headers) as client:
            customer = self._log_in(client, index)
            for i in range(self.max_requests):
                if self._stop.is_set() or time.monotonic() > deadline:
                    return
                method, path, body = self.mix(rng, index * self.max_requests + i)
                if customer is not None and body is not None and "CustomerId" in body:
                    body = {**body, "CustomerId": str(customer)}  # an order is placed for the logged-in customer
                cohort = {"X-Strangler-Cohort": f"rel-{index}-{i}"}  # spreads a canary over both sides
                try:
                    r = client.request(method, path, json=body, headers=cohort)
                    rec = Record(time.monotonic() - self.started, method, path, r.status_code,
                                 r.headers.get("X-Served-By", "-"))
                    if rec.failed:
                        rec.error = r.text[:160]
                except httpx.HTTPError as exc:
                    rec = Record(time.monotonic() - self.started, method, path, 0, "-", repr(exc)[:160])
                with self._lock:
                    self.records.append(rec)

    def _log_in(self, client: httpx.Client, index: int) -> int | None:
        """This thread's session (its client keeps the cookie): seeded customer index % 50 + 1, or None."""
        if self.password is None:
            return None
        customer = index % LOGIN_CUSTOMERS + 1
        answer = client.post("/api/login", json={"Email": f"customer{customer}@example.com",
                                                 "Password": self.password})
        with self._lock:
            self.records.append(Record(time.monotonic() - self.started, "POST", "/api/login", answer.status_code,
                                       answer.headers.get("X-Served-By", "-"),
                                       "" if answer.status_code == 200 else answer.text[:160]))
        return customer if answer.status_code == 200 else None

    def now(self) -> float:
        return time.monotonic() - self.started

    # ------------------------------------------------------------- figures
    def snapshot(self) -> list[Record]:
        with self._lock:
            return list(self.records)

    def failures(self) -> list[Record]:
        return [r for r in self.snapshot() if r.failed]

    def summary(self) -> dict:
        recs = self.snapshot()
        failed = [r for r in recs if r.failed]
        return {"requests": len(recs), "failed": len(failed),
                "writes": sum(r.method != "GET" for r in recs),
                "served_by": dict(Counter(r.served_by for r in recs)),
                "failed_by": dict(Counter(f"{r.status} {r.served_by}" for r in failed)),
                "examples": [f"{r.method} {r.path} -> {r.status} {r.served_by} {r.error}" for r in failed[:5]]}
