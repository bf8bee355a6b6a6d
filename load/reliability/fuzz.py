"""Fuzz the legacy OpenAPI contract through the façade with schemathesis, and tell whose 5xx each one is.

The schema is the monolith's own /openapi.json (fetched through the façade: no feature claims that path).
schemathesis writes every exchange to a HAR file; an answer's X-Served-By says who made it — an upstream's
name, or "facade" for the façade's own errors (proxy/addons/errors.py, including its 504 for an upstream
that did not answer within its `timeout_s`). A 5xx without the header is the façade's too.

No answer at all (HAR status 0: a transport error of schemathesis's client — its read timeout, or a refused
or reset connection) is counted on its own, with schemathesis's reasons: it is not a 5xx, and on a busy machine
it is usually the client giving up. The client waits longer than the façade's slowest upstream timeout
(`client_timeout`), so an upstream that hangs still shows as the façade's 504, never as a client timeout.
Each request carries its own canary cohort (load/reliability/cohorts_hook.py), so `canary` is fuzzed on both
sides.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from proxy.table import load_table

SCHEMATHESIS = Path(sys.executable).parent / "schemathesis"
# the demo features' operations (catalog and orders): the part of the contract a flip moves
FEATURE_PATHS = "^/api/(products|orders)"
# beyond the façade's own upstream timeout: its watchdog sweeps every 0.1 s, and a busy machine is slow to write
TIMEOUT_MARGIN_S = 5.0
# schemathesis's console report of a transport error: "___ GET /path ___", "Network Error", its message
# ("Read timed out after 15 seconds", "Connection failed"...) and, for a connection, the cause indented
_NETWORK_ERROR = re.compile(r"(?m)^_+ (\S+ \S+) _+\nNetwork Error\n\n(.+)\n(?:\n    (\S.*)\n)?")


@dataclass
class FuzzResult:
    requests: int = 0
    facade_5xx: int = 0
    no_answer: int = 0  # the client got no response at all (HAR status 0): not a 5xx, see no_answer_reasons
    no_answer_reasons: Counter = field(default_factory=Counter)  # "GET /path: why" -> 1 (schemathesis reports
    # one network error per operation, not per request)
    upstream_5xx: Counter = field(default_factory=Counter)  # upstream name -> 5xx it answered
    served_by: Counter = field(default_factory=Counter)
    examples: list[str] = field(default_factory=list)  # a few 5xx or no-answers, "METHOD url -> status by: body"

    @property
    def upstream_5xx_total(self) -> int:
        return sum(self.upstream_5xx.values())


def client_timeout(routes: Path) -> float:
    """Seconds the fuzzing client waits for an answer: the slowest upstream's `timeout_s` in the route table,
    plus TIMEOUT_MARGIN_S (so the façade's 504 arrives before the client gives up)."""
    return max(u.timeout_s for u in load_table(routes).upstreams.values()) + TIMEOUT_MARGIN_S


def session_cookie(facade_url: str, password: str, customer: int = 1) -> str:
    """A `Cookie` value of a logged-in seeded customer: the orders operations answer 401 without one, and
    the fuzzing must get past that gate to reach their inputs."""
    answer = httpx.post(f"{facade_url}/api/login", json={"Email": f"customer{customer}@example.com",
                                                         "Password": password}, timeout=30)
    answer.raise_for_status()
    return "; ".join(f"{name}={value}" for name, value in answer.cookies.items())


def fuzz(facade_url: str, har: Path, *, routes: Path, max_examples: int = 5, seed: int = 1,
         paths: str | None = None, timeout_s: float = 600, cookie: str | None = None) -> FuzzResult:
    """One bounded schemathesis run (examples, coverage and fuzzing phases; no shrinking, one worker) against
    the façade serving the route table `routes`; `cookie` (session_cookie) sends every request logged in."""
    argv = [str(SCHEMATHESIS), "run", f"{facade_url}/openapi.json", "--url", facade_url,
            "-n", str(max_examples), "--seed", str(seed), "--no-shrink", "-w", "1",
            "--phases", "examples,coverage,fuzzing", "--checks", "not_a_server_error",
            "--request-timeout", f"{client_timeout(routes):g}",
            "--suppress-health-check", "all", "--warnings", "off",
            "--report", "har", "--report-har-path", str(har)]
    if paths:
        argv += ["--include-path-regex", paths]
    if cookie:
        argv += ["-H", f"Cookie: {cookie}"]
    env = {**os.environ, "SCHEMATHESIS_HOOKS": "load.reliability.cohorts_hook"}
    # cwd: schemathesis keeps a crash cache (.schemathesis/) there; beside the HAR, each run starts afresh
    done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout_s, check=False, env=env,
                          cwd=har.parent)
    if not har.is_file():  # schemathesis exits 1 when it finds a 5xx; no report means it did not run
        raise RuntimeError(f"schemathesis did not run (exit {done.returncode}):\n{done.stdout[-2000:]}{done.stderr}")
    return classify(json.loads(har.read_text()), done.stdout)


def classify(har: dict, output: str = "") -> FuzzResult:
    """Count a HAR's answers by who made them; `output` (schemathesis's console) names why some got none."""
    result = FuzzResult()
    for entry in har["log"]["entries"]:
        response = entry["response"]
        status = response["status"]
        by = next((h["value"] for h in response["headers"] if h["name"].lower() == "x-served-by"), "")
        result.requests += 1
        result.served_by[by or "-"] += 1
        if status and status < 500:
            continue
        if not status:
            result.no_answer += 1
        elif by in ("", "facade"):
            result.facade_5xx += 1
        else:
            result.upstream_5xx[by] += 1
        if len(result.examples) < 8:
            body = (response.get("content") or {}).get("text", "")[:140]
            result.examples.append(f"{entry['request']['method']} {entry['request']['url'][:100]} -> "
                                   f"{status} {by or '-'}: {body}")
    if result.no_answer:
        result.no_answer_reasons.update(f"{op}: {why}" + (f" ({cause})" if cause else "")
                                        for op, why, cause in _NETWORK_ERROR.findall(output))
    return result
