"""The reliability figures of docs/promises.md, measured in one run on one demo stack (config/stack.yaml).

Run: python -m load.bench_reliability [--examples 10] [--flips 40] [--soak-seconds 60] [--json out.json]

On loopback only, every loop bounded in count and time (default total: about five minutes):
  a. schemathesis fuzzes the legacy OpenAPI through the façade with catalog and orders in each state
     (legacy, shadow, canary 50 %, new): 5xx of the façade's own making (must be 0), 5xx by upstream, and
     requests that got no answer within the client's timeout (the façade's upstream timeout + 5 s);
  b. flips round the ladder under mixed read/write load: failed requests (must be 0);
  c. the catalog service SIGKILLed under load: failures and failures/s until the breaker opens, seconds
     until it serves again after its restart;
  d. a soak: RSS growth of the façade (mitmdump) and its shadow worker, in %;
  e. invalid YAML written over the live route table under load: failed requests (must be 0);
  f. open-proxy probes (absolute-form, CONNECT, spoofed Host, smuggling, header injection): all refused,
     0 connections reach a foreign loopback listener; a 12 MiB declared body gets its 413 at once.
A failed request is a transport error or a 5xx. Prints figures with units, load average and date; never
asserts (tests/integration/reliability/ does, with the same code on a smaller scale).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import sys
import tempfile
import time
from pathlib import Path

from load.figures import bounded, figure
from load.reliability.episodes import broken_table_under_load, flips_under_load, killed_service, soak
from load.reliability.fuzz import client_timeout, fuzz, session_cookie
from load.reliability.probes import ForeignHost, open_proxy_probes, oversize_probe, smuggling_probes
from load.reliability.stack import demo_stack
from load.reliability.traffic import demo_mix, seeded_password
from proxy.common.clock import stamp

STATES = (("legacy", None), ("shadow", None), ("canary", 50.0), ("new", None))
FEATURES = ("catalog", "orders")


def machine() -> str:
    load1, load5, load15 = os.getloadavg()
    return (f"{stamp()} | {platform.node()} | {os.cpu_count()} cores | "
            f"load average {load1:.2f} {load5:.2f} {load15:.2f}")


def show(label: str, value: object, unit: str = "") -> None:
    print(f"  {label:<58} {value}{' ' + unit if unit else ''}", flush=True)


def show_failures(summary: dict) -> None:
    if summary["failed"]:
        show("failed, by status and X-Served-By", summary["failed_by"])
        for example in summary["examples"]:
            print(f"    {example}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--examples", type=int, default=10, help="schemathesis examples per operation and state")
    ap.add_argument("--flips", type=int, default=40, help="flips under load (each flips both features)")
    ap.add_argument("--soak-seconds", type=float, default=60.0, help="soak length after a 10 s warm-up")
    ap.add_argument("--threads", type=int, default=4, help="client threads of each load")
    ap.add_argument("--json", type=Path, help="also write every figure to this file")
    args = ap.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # unwind: the stack's processes are stopped
    started = time.monotonic()
    figures: dict = {"start": machine(), "command": "python -m load.bench_reliability " + " ".join(
        f"--{k.replace('_', '-')} {v}" for k, v in vars(args).items() if v is not None and k != "json")}
    print(f"reliability bench — {figures['start']}", flush=True)
    with tempfile.TemporaryDirectory(prefix="bench-reliability-") as tmp, demo_stack(Path(tmp) / "var") as stack:
        def flip_all(to: str, percent: float | None) -> None:
            stack.flip(FEATURES, to, percent)

        print("a. schemathesis through the façade (legacy OpenAPI, all operations)")
        figures["fuzz"] = {}
        for state, percent in STATES:
            flip_all(state, percent)
            r = fuzz(stack.url(), Path(tmp) / f"{state}.har", routes=stack.routes, max_examples=args.examples,
                     cookie=session_cookie(stack.url(), seeded_password(stack.var) or ""))  # orders: logged in
            figures["fuzz"][state] = {"requests": r.requests, "facade_5xx": r.facade_5xx,
                                      "upstream_5xx": dict(r.upstream_5xx), "no_answer": r.no_answer,
                                      "no_answer_reasons": dict(r.no_answer_reasons),
                                      "served_by": dict(r.served_by), "examples": r.examples}
            show(f"{state}: requests / façade-made 5xx", f"{r.requests} / {r.facade_5xx}", "requests")
            show(f"{state}: 5xx by upstream", dict(r.upstream_5xx) or "none")
            show(f"{state}: no answer within the client's {client_timeout(stack.routes):g} s", r.no_answer,
                 "requests")
            for reason in r.no_answer_reasons:
                print(f"    {reason}")
        flip_all("legacy", None)

        print("b. flips under mixed read/write load")
        f = figures["flips"] = flips_under_load(stack.url(), demo_mix, flip_all, flips=args.flips,
                                                threads=args.threads, password=seeded_password(stack.var))
        show("flips (both features each) / seconds", f"{f['flips']} / {f['flip_seconds']}", "s")
        show("requests (writes) / failed", f"{f['requests']} ({f['writes']}) / {f['failed']}", "requests")
        show_failures(f)
        flip_all("legacy", None)

        print("c. catalog service SIGKILLed under read load (catalog in new)")
        k = figures["killed"] = killed_service(stack, "catalog", threads=args.threads)
        show("failed until the breaker opened / in", f"{k['failed_until_open']} / {k['seconds_to_open']}",
             "requests / s")
        show("failures per second until open", k["failures_per_second_until_open"], "failures/s")
        show("failures in each second from the kill to serving again", k["failures_each_second"], "failures")
        show("failed while open (half-open probes)", k["failed_while_open"], "requests")
        show("from restarted-and-healthy to serving again", k["seconds_to_recover"], "s")
        show_failures(k)
        stack.flip("catalog", "shadow")
        stack.flip("orders", "canary", 50.0)

        print(f"d. soak ({args.soak_seconds:g} s, catalog in shadow, orders canary 50 %)")
        s = figures["soak"] = soak(stack, demo_mix, seconds=args.soak_seconds, threads=args.threads)
        show("RSS growth façade (mitmdump)", s["rss_growth_percent"]["facade"], "%")
        show("RSS growth shadow worker", s["rss_growth_percent"]["shadow_worker"], "%")
        show("requests / failed", f"{s['requests']} / {s['failed']}", "requests")
        show_failures(s)

        print("e. invalid YAML over the live route table under mixed load")
        b = figures["broken_table"] = broken_table_under_load(stack.url(), stack.routes, demo_mix, stack.admin,
                                                              threads=args.threads,
                                                              password=seeded_password(stack.var))
        show("requests / failed", f"{b['requests']} / {b['failed']}", "requests")
        show_failures(b)

        print("f. open-proxy probes")
        with ForeignHost() as foreign:
            probes = open_proxy_probes(stack.facade_port, foreign.port) + smuggling_probes(stack.facade_port,
                                                                                           foreign.port)
            hits = foreign.hits
        figures["probes"] = {"results": [p.__dict__ for p in probes], "foreign_hits": hits}
        for p in probes:
            show(p.name, ("kept out" if p.refused else "FORWARDED") + f": {p.answer or 'closed'}"
                 + (f" from {'/'.join(b or 'facade' for b in p.served_by)}" if p.served_by else ""))
        show("connections that reached the foreign host", hits, "connections")
        status, seconds = oversize_probe(stack.facade_port)
        figures["oversize"] = {"answer": status, "seconds": seconds}
        show("12 MiB declared body (64 KiB sent): answer / after", f"{status or 'none'} / {seconds}", "s")
    figures["end"] = machine()
    figures["seconds"] = round(time.monotonic() - started, 1)
    print(f"done in {figures['seconds']} s — {figures['end']}")
    if args.json:
        figures |= {"bench": "bench_reliability", "figures": headlines(figures)}
        args.json.write_text(json.dumps(figures, indent=1, default=str))


def headlines(f: dict) -> list[dict]:
    """The figures docs/benchmarks.md shows (load/figures.py's shape), one per figure of docs/promises.md, which
    names them (tests/unit/load/test_promises_figures.py checks that every name it cites is one of these)."""
    zero = lambda name, value, unit: bounded(name, value, unit, 0, higher_is_better=False, digits=0)
    fuzz, killed, soak = f["fuzz"].values(), f["killed"], f["soak"]
    return [zero("façade-made 5xx while fuzzing (all states)", sum(s["facade_5xx"] for s in fuzz), "responses"),
            figure("5xx by upstream while fuzzing (all states)", sum(sum(s["upstream_5xx"].values()) for s in fuzz),
                   "responses"),
            figure("requests with no answer within the client's timeout while fuzzing (all states)",
                   sum(s["no_answer"] for s in fuzz), "requests"),
            zero(f"failed requests during {f['flips']['flips']} flips", f["flips"]["failed"], "requests"),
            zero("failed requests with a broken route table", f["broken_table"]["failed"], "requests"),
            zero("open-proxy / smuggling probes forwarded", sum(not p["refused"] for p in f["probes"]["results"]),
                 "probes"),
            zero("connections reaching a foreign host", f["probes"]["foreign_hits"], "connections"),
            figure("failed requests until the breaker opened", killed["failed_until_open"], "requests"),
            figure("failures per second until the breaker opened", killed["failures_per_second_until_open"] or 0,
                   "failures/s"),
            figure("seconds from the restarted service healthy to served again", killed["seconds_to_recover"],
                   "s"),
            figure("RSS growth in the soak, façade", soak["rss_growth_percent"]["facade"], "%"),
            figure("RSS growth in the soak, shadow worker", soak["rss_growth_percent"]["shadow_worker"], "%"),
            zero("failed requests in the soak", soak["failed"], "requests"),
            figure("12 MiB declared body answered", f["oversize"]["answer"], "", "413",
                   "met" if f["oversize"]["answer"] == "413" else "missed"),
            figure("seconds to the 413 of a 12 MiB declared body", f["oversize"]["seconds"] or 0, "s")]

if __name__ == "__main__":
    main()
