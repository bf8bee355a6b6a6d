"""Route-match micro-benchmark: 10,000 routes, p50/p99 per match (target p99 <= 20 µs).

Run: python -m load.bench_match [--routes 10000] [--lookups 50000] [--json FILE]
Prints figures only; nothing here asserts (timings depend on the machine and its load).
"""
from __future__ import annotations

import argparse
import random
import statistics
import time

from load import figures
from proxy.matcher import Matcher
from proxy.table import RouteTable


def build_table(n_routes: int, rng: random.Random) -> tuple[RouteTable, list[tuple[str, str]]]:
    features, probes = {}, []
    per_feature = 20
    for f in range(n_routes // per_feature):
        routes = []
        for r in range(per_feature):
            kind = r % 4
            base = f"/api/v{f % 3}/res{f}/sub{r}"
            path = {0: base, 1: base + "/{id}", 2: base + "/{id}/items/{item}", 3: base + "/files/{rest:path}"}[kind]
            methods = ["GET", "POST"] if r % 2 else ["GET"]
            routes.append({"methods": methods, "path": path})
            probe = path.replace("{id}", str(rng.randint(1, 10**6))).replace("{item}", "x7") \
                .replace("{rest:path}", "a/b/c.txt")
            probes.append(("GET", probe))
        features[f"feature{f}"] = {"target": "svc", "state": "new", "routes": routes}
    table = RouteTable.model_validate({
        "upstreams": {"legacy": {"url": "http://127.0.0.1:5000"}, "svc": {"url": "http://127.0.0.1:8101"}},
        "default": "legacy", "features": features})
    probes += [("GET", f"/legacy/page/{i}") for i in range(len(probes) // 10)]  # misses go to legacy
    return table, probes


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--routes", type=int, default=10_000)
    ap.add_argument("--lookups", type=int, default=50_000)
    figures.add_json_option(ap)
    args = ap.parse_args()
    rng = random.Random(1)
    t0 = time.perf_counter()
    table, probes = build_table(args.routes, rng)
    t1 = time.perf_counter()
    matcher = Matcher(table)
    t2 = time.perf_counter()
    samples = []
    clock = time.perf_counter_ns
    for _ in range(args.lookups):
        method, path = probes[rng.randrange(len(probes))]
        start = clock()
        matcher.match(method, path)
        samples.append(clock() - start)
    samples.sort()
    p = lambda q: samples[min(len(samples) - 1, int(q * len(samples)))] / 1000
    print(f"routes={matcher.size} lookups={args.lookups} validate={t1 - t0:.2f}s compile={(t2 - t1) * 1000:.0f}ms")
    print(f"match p50={p(0.50):.2f}µs p99={p(0.99):.2f}µs mean={statistics.fmean(samples) / 1000:.2f}µs "
          f"(target p99 <= 20µs) — 2 shared CPU cores, other work running alongside")
    figures.write(args.json, "bench_match", [
        figures.bounded(f"route match p99, {matcher.size:,} routes", p(0.99), "µs", 20, higher_is_better=False),
        figures.figure("route match p50", round(p(0.50), 2), "µs")])


if __name__ == "__main__":
    main()
