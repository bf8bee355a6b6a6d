"""Fuzz the legacy OpenAPI contract through the façade with schemathesis, and tell whose 5xx each one is.

The schema is the monolith's own /openapi.json (fetched through the façade: no feature claims that path).
schemathesis writes every exchange to a HAR file; an answer's X-Served-By says who made it — an upstream's
name, or "facade" for the façade's own errors (proxy/addons/errors.py). A 5xx without the header, or no
answer at all, is the façade's too: only it can fail that way. Each request carries its own canary cohort
(load/reliability/cohorts_hook.py), so `canary` is fuzzed on both sides.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

SCHEMATHESIS = Path(sys.executable).parent / "schemathesis"
# the demo features' operations (catalog and orders): the part of the contract a flip moves
FEATURE_PATHS = "^/api/(products|orders)"


@dataclass
class FuzzResult:
    requests: int = 0
    facade_5xx: int = 0
    upstream_5xx: Counter = field(default_factory=Counter)  # upstream name -> 5xx it answered
    served_by: Counter = field(default_factory=Counter)
    examples: list[str] = field(default_factory=list)  # a few 5xx, "METHOD url -> status by: body"

    @property
    def upstream_5xx_total(self) -> int:
        return sum(self.upstream_5xx.values())


def fuzz(facade_url: str, har: Path, *, max_examples: int = 5, seed: int = 1, paths: str | None = None,
         timeout_s: float = 600) -> FuzzResult:
    """One bounded schemathesis run (examples, coverage and fuzzing phases; no shrinking, one worker)."""
    argv = [str(SCHEMATHESIS), "run", f"{facade_url}/openapi.json", "--url", facade_url,
            "-n", str(max_examples), "--seed", str(seed), "--no-shrink", "-w", "1",
            "--phases", "examples,coverage,fuzzing", "--checks", "not_a_server_error", "--request-timeout", "10",
            "--suppress-health-check", "all", "--warnings", "off",
            "--report", "har", "--report-har-path", str(har)]
    if paths:
        argv += ["--include-path-regex", paths]
    env = {**os.environ, "SCHEMATHESIS_HOOKS": "load.reliability.cohorts_hook"}
    # cwd: schemathesis keeps a crash cache (.schemathesis/) there; beside the HAR, each run starts afresh
    done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout_s, check=False, env=env,
                          cwd=har.parent)
    if not har.is_file():  # schemathesis exits 1 when it finds a 5xx; no report means it did not run
        raise RuntimeError(f"schemathesis did not run (exit {done.returncode}):\n{done.stdout[-2000:]}{done.stderr}")
    return classify(json.loads(har.read_text()))


def classify(har: dict) -> FuzzResult:
    result = FuzzResult()
    for entry in har["log"]["entries"]:
        response = entry["response"]
        status = response["status"]
        by = next((h["value"] for h in response["headers"] if h["name"].lower() == "x-served-by"), "")
        result.requests += 1
        result.served_by[by or "-"] += 1
        if status and status < 500:
            continue
        if by in ("", "facade"):
            result.facade_5xx += 1
        else:
            result.upstream_5xx[by] += 1
        if len(result.examples) < 8:
            body = (response.get("content") or {}).get("text", "")[:140]
            result.examples.append(f"{entry['request']['method']} {entry['request']['url'][:100]} -> "
                                   f"{status} {by or '-'}: {body}")
    return result
