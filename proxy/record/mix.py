"""Recorded cases as a Locust request mix (`strangler load --from-recording FEATURE|all`, issue 22).

Each case becomes one entry of the load/mix.py format: its representative request (method, path, JSON body,
the headers that matter) at the case's observed weight (its count: the share of the recorded traffic), so a
load test reproduces production's mix. What the format cannot say is left out and named: a non-JSON body, a
body cut at record time, a redacted value in the path, a write unless `writes` is asked for. A redacted header
stays a `${STRANGLER_REPLAY_…}` reference (the mix reads it from the environment when it loads, so no secret
is written into the file); when only the untagged variable is set the reference is rewritten to it, and a
case whose variable is unset is left out as "needs credentials".

The observed rate (requests per second legacy served, the recorded count scaled back by `record.rate`)
paces the run when a speed is given (`--speed 2x`): each of U users waits U / (rate × speed) seconds.
"""
from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from proxy.parity.redact import PLACEHOLDER_PREFIX
from proxy.record.capture import body_bytes
from proxy.record.storage import Case, Recording

SAFE = frozenset({"GET", "HEAD", "OPTIONS"})
_NOT_SENT = frozenset({"host", "content-length", "connection", "transfer-encoding", "keep-alive", "accept-encoding",
                       "te", "upgrade", "proxy-connection", "user-agent"})
_REF = re.compile(r"\$\{(" + PLACEHOLDER_PREFIX + r"[A-Z0-9_]+)\}")
_SPEED = re.compile(r"^(\d+(?:\.\d+)?)x?$")


@dataclass
class RecordedMix:
    entries: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    requests: int = 0          # recorded requests the entries stand for
    rate: float | None = None  # observed requests/s of legacy over the recording's span (None: unknown)

    def document(self, name: str = "recorded") -> dict[str, Any]:
        return {"mixes": {name: self.entries}}


def parse_speed(text: str) -> float:
    """"2x", "0.5x" or "2" -> 2.0; ValueError otherwise."""
    m = _SPEED.match(text.strip().lower())
    if not m or float(m.group(1)) <= 0:
        raise ValueError(f"--speed {text!r} is not a factor like 2x or 0.5x")
    return float(m.group(1))


def build_mix(cases: Iterable[tuple[str, Case, Recording | None]], environ: Mapping[str, str], *,
              writes: bool = False, sample_rates: Mapping[str, float] | None = None) -> RecordedMix:
    """(feature, case, its representative) -> the mix; `sample_rates` are the features' record.rate."""
    out = RecordedMix()
    spans: dict[str, tuple[float, float, int]] = {}
    for feature, case, rec in cases:
        what = f"{feature}: case {case.signature} ({case.method} {case.route})"
        first, last, n = spans.get(feature, (case.first_seen, case.last_seen, 0))
        spans[feature] = (min(first, case.first_seen), max(last, case.last_seen), n + case.count)
        why = _unusable(rec, writes)
        if why:
            out.notes.append(f"{what} left out: {why}")
            continue
        assert rec is not None
        headers, missing = _headers(rec, environ)
        if missing:
            out.notes.append(f"{what} left out: needs credentials (export {' '.join(missing)})")
            continue
        entry: dict[str, Any] = {"name": f"{feature} {case.signature}", "method": rec.method, "path": rec.path,
                                 "weight": case.count, "expect": [rec.status]}
        if headers:
            entry["headers"] = headers
        if rec.request.get("body"):
            entry["json"] = json.loads(body_bytes(rec.request))
        out.entries.append(entry)
        out.requests += case.count
    rates = [n / (last - first) / max((sample_rates or {}).get(f, 1.0), 1e-9)
             for f, (first, last, n) in spans.items() if last > first and n > 1]
    out.rate = sum(rates) if rates else None
    return out


def _unusable(rec: Recording | None, writes: bool) -> str:
    if rec is None:
        return "no recording of it is kept (pruned)"
    if rec.method not in SAFE and not writes:
        return "a write (add --writes to load writes too)"
    if rec.request.get("body_truncated"):
        return "its body was cut at record time"
    if rec.request.get("body") and rec.request.get("body_kind") != "json":
        return f"a {rec.request.get('body_kind') or 'non-JSON'} body (a mix sends JSON bodies only)"
    if "{" in rec.path or "}" in rec.path:
        return "a redacted value or a brace in its path (a mix path takes {param} placeholders only)"
    return ""


def _headers(rec: Recording, environ: Mapping[str, str]) -> tuple[dict[str, str], list[str]]:
    headers: dict[str, str] = {}
    missing: list[str] = []
    for name, value in rec.request.get("headers", []):
        if name.lower() in _NOT_SENT or name.lower().startswith("x-strangler-"):
            continue

        def ref(m: re.Match[str]) -> str:
            env = m.group(1)
            if environ.get(env):
                return m.group(0)
            plain = env.split("__", 1)[0]
            if environ.get(plain):
                return "${" + plain + "}"
            missing.append(env)
            return m.group(0)
        headers[name] = _REF.sub(ref, value)
    return headers, sorted(set(missing))
