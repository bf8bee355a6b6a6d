"""What shadowing costs the façade's own process, counted: instructions per request, shadow on vs off.

Run: python -m load.bench_shadow_cost [--calls 300] [--warm 20] [--json FILE]
load/bench_shadow.py measures what the client waits at 1 connection (issue 21: <= 1.10x of shadow off). On a
small machine that figure mixes two costs: the façade's own work for each shadowed request (deciding, the
job's hand-over to the shadow workers, their events applied back), which is on the client's path, and the
workers' copies and comparisons, which run in other processes on the same cores. This benchmark counts the
first alone and repeatably: bench_shadow's façades (feature in state `legacy` = shadow off, in state `shadow`
with the target answering, and with the target timing out) run under callgrind at once (bench_facade's
callgrind_interleaved: instrumentation off at start-up, --warm uncounted requests, then --calls requests on
one keep-alive connection each, the arms alternating, then an idle window for what timers cost per second).
The shadow workers are the façades' children and run outside valgrind, as in production: their copies and
comparisons are not counted here, only what the façade does to hand over and apply their events. Instruction
counts do not depend on the machine's load. Prints and writes figures only; never asserts.
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from contextlib import ExitStack
from pathlib import Path

from load import figures
from load.bench_facade import callgrind_interleaved
from load.bench_shadow import FACADES, ROOT, TABLE, _facade, _uvicorn
from strangler.procs import free_port, running

PATH = "/bench/42"
OFF = "shadow off"


def costs(counted: dict[str, tuple[float, float]]) -> dict[str, tuple[float, float]]:
    """{arm: (instructions per request without its timer estimate, that / shadow off's)} from
    callgrind_interleaved's {arm: (instructions per request, of which timers)}: each arm's own timers come out
    (a shadowing façade also wakes for its workers' event batches, so its idle cost is its own)."""
    net = {name: busy - timers for name, (busy, timers) in counted.items()}
    return {name: (value, value / net[OFF]) for name, value in net.items()}


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--calls", type=int, default=300, help="requests per arm counted under callgrind")
    ap.add_argument("--warm", type=int, default=20, help="uncounted requests per arm before the count "
                                                         "(the shadow workers start meanwhile)")
    figures.add_json_option(ap)
    return ap


def main() -> None:
    ap = parser()
    args = ap.parse_args()
    figures.keep_bounded(ap, args, calls=(1, 5000), warm=(1, 1000))
    if shutil.which("valgrind") is None:
        sys.exit("valgrind is not installed. Fix: apt-get install -y valgrind")
    load_before = os.getloadavg()
    tmp = Path(tempfile.mkdtemp(prefix="bench-shadow-cost-"))
    legacy, slow = free_port(), free_port()
    env = {"STRANGLER_ADMIN_TOKEN": os.urandom(16).hex(), "STRANGLER_VAR_DIR": str(tmp / "var")}
    arms: dict[str, tuple[list[str], int, str]] = {}
    for name, (state, timeout) in FACADES.items():
        port, admin = free_port(), free_port()
        routes = tmp / f"{name.replace(' ', '-')}.yaml"
        routes.write_text(TABLE.format(legacy=legacy, slow=slow, state=state, timeout=timeout, max_in_flight=256))
        arms[name] = (_facade(legacy, port, admin, routes, tmp / "parity.db", 1), port,
                      f"http://127.0.0.1:{admin}/healthz")
    with ExitStack() as stack:
        for app, port in (("load.bench_shadow:legacy_app", legacy), ("load.bench_shadow:slow_app", slow)):
            stack.enter_context(running(_uvicorn(app, port), cwd=ROOT, health_url=f"http://127.0.0.1:{port}/healthz",
                                        log_path=tmp / f"{port}.log"))
        counted = callgrind_interleaved(arms, PATH, warm=args.warm, calls=args.calls, out=tmp / "callgrind.out",
                                        env=env)
    off = costs(counted)[OFF][0]
    print(f"\ninstructions per request of the façade process (callgrind, {args.calls} requests per arm after "
          f"{args.warm}, all arms over the same window, each one's timer estimate subtracted; load average "
          f"{' '.join(f'{x:.2f}' for x in load_before)} before):")
    out = []
    for name, (value, ratio) in costs(counted).items():
        print(f"  {name:14s} {value:12,.0f}  ({value - off:+,.0f}, {ratio:.3f}x of shadow off)")
        out.append(figures.figure(f"façade instructions/request, {name} (callgrind)", round(value), "instr"))
        if name != OFF:
            out.append(figures.figure(f"façade instructions/request, {name} / shadow off (callgrind; the "
                                      "hand-over's own share of the client's p50)", round(ratio, 3), "x"))
    figures.write(args.json, "bench_shadow_cost", out)
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
