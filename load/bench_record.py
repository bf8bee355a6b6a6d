"""Recorded traffic (issue 22): what recording costs the façade, how fast replay compares, how fast dedup is.

Run: python -m load.bench_record [--rounds 6] [--seconds 3] [--connections 8] [--cases 2000]
                                 [--dedup 1000000] [--callgrind-calls 100] [--warm 20] [--no-callgrind]
                                 [--writer-requests 2000] [--json FILE]
Needs wrk and valgrind (apt-get install -y wrk valgrind; or --no-callgrind).
1. Recording at rate 1.0 vs off: two façades (mitmdump + the kit's addons) in front of the same trivial
   backend (load.bench_facade:backend_app), one with `record: {rate: 1.0}` on the benchmarked feature, one
   without; wrk against each in alternating order per round; paired ratios (median, 95 % interval) of req/s
   (target >= 0.95) and of client p50 at one connection (target <= 1.10: "unchanged within noise").
   The recordings written and the records dropped (writer lagging) are printed beside. Then the writer
   process's CPU per recorded exchange: --writer-requests requests to the recording façade on one connection,
   the writer's user + system time from /proc before and after (its last batch flushed).
   Instructions per request, counted with callgrind (load.bench_facade.callgrind_interleaved, as
   load/bench_identity.py): both façades under valgrind at once (the writer process is not: it is not the
   façade's event loop), --warm uncounted requests, then --callgrind-calls requests alternating between them.
   The throughput bound off/on of the façade's instructions decides the <= 5 % target repeatably: met when
   >= 0.95 with the off arm's timers subtracted and without, missed when below in both, else inconclusive.
   The writer's CPU is beside it: on a machine whose cores are all busy it is taken from the façade too.
2. Replay: `--cases` recordings stored through the writer's own code, then replayed with the replay engine
   (proxy/record/replay.py, the shadow comparison, parity store writes included) against the trivial
   backend as candidate, noise samples off after the warm-up: compared cases per second (target >= 500).
3. Dedup: signatures (method, route template, query keys, body shape) of `--dedup` generated requests and
   their grouping into cases, in this process: wall and CPU seconds (target <= 10 s wall).
Generator, proxies, writer and backend share this machine's cores (printed with the load average): the
recording figure is a ratio measured in one run; the others are absolute, on this machine.
"""
from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import shutil
import sqlite3
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

import httpx
import orjson

from load import figures
from load.bench_facade import callgrind_interleaved, cpu_seconds, wrk
from load.stats import median_interval, paired_ratios, verdict
from proxy.record.capture import Captured
from strangler.procs import free_port, running

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
RPS_TARGET, P50_TARGET, REPLAY_TARGET, DEDUP_TARGET_S = 0.95, 1.10, 500.0, 10.0
TABLE = """\
upstreams:
  legacy: {{url: "http://127.0.0.1:{backend}"}}
  svc: {{url: "http://127.0.0.1:{backend}"}}
default: legacy
features:
  items:
    target: svc
    state: legacy
    routes: [{{methods: [GET, POST], path: "/api/items/{{id}}"}}]
{record}"""


def _facade(backend: int, port: int, admin: int, routes: Path, db: Path) -> list[str]:
    return [str(BIN / "mitmdump"), "--mode", f"reverse:http://127.0.0.1:{backend}@127.0.0.1:{port}",
            "--set", "connection_strategy=lazy", "--set", "flow_detail=0", "--set", "termlog_verbosity=warn",
            "--set", "keep_host_header=true", "-s", str(ROOT / "proxy" / "facade.py"),
            "--set", f"strangler_routes={routes}", "--set", f"strangler_admin_port={admin}",
            "--set", f"strangler_parity_db={db}"]


def _metric(admin: int, token: str, name: str) -> float:
    text = httpx.get(f"http://127.0.0.1:{admin}/metrics", headers={"Authorization": f"Bearer {token}"},
                     timeout=10).text
    return sum(float(v) for v in re.findall(rf"^{name}{{[^}}]*}} ([\d.e+]+)$", text, re.M))


def recording_cost(args: argparse.Namespace, tmp: Path, backend: int) -> list[dict]:
    token = os.urandom(16).hex()
    env = {"STRANGLER_ADMIN_TOKEN": token, "STRANGLER_VAR_DIR": str(tmp / "var")}
    arms = {"off": "", "on": "    record: {rate: 1.0}\n"}
    ports = {name: (free_port(), free_port()) for name in arms}
    rounds: dict[str, list[dict]] = {name: [] for name in arms}
    pids: dict[str, int] = {}
    with ExitStack() as stack:
        for name, record in arms.items():
            routes = tmp / f"routes-{name}.yaml"
            routes.write_text(TABLE.format(backend=backend, record=record))
            port, admin = ports[name]
            pids[name] = stack.enter_context(running(
                _facade(backend, port, admin, routes, tmp / f"parity-{name}.db"), env=env, cwd=ROOT,
                health_url=f"http://127.0.0.1:{admin}/healthz", log_path=tmp / f"facade-{name}.log", timeout=60)).pid
        urls = {name: f"http://127.0.0.1:{port}/api/items/7?page=2" for name, (port, _) in ports.items()}
        for url in urls.values():  # warm-up
            wrk(url, 1, args.connections)
        for r in range(args.rounds):
            for name in (list(urls) if r % 2 == 0 else list(reversed(urls))):
                cpu = cpu_seconds(pids[name])
                res = wrk(urls[name], args.seconds, args.connections)
                res["cpu_us"] = 1e6 * (cpu_seconds(pids[name]) - cpu) / max(1.0, res["rps"] * args.seconds)
                res["p50_c1_ms"] = wrk(urls[name], args.seconds, 1)["p50_ms"]
                rounds[name].append(res)
                print(f"round {r + 1:2d} record {name:3s} {res['rps']:8.0f} req/s  p50 {res['p50_ms']:6.2f} ms  "
                      f"façade cpu {res['cpu_us']:.0f} us/req | 1 connection: p50 {res['p50_c1_ms']:.2f} ms",
                      flush=True)
        on_admin = ports["on"][1]
        handed, dropped = (_metric(on_admin, token, "strangler_record_total"),
                           _metric(on_admin, token, "strangler_record_dropped_total"))
        reasons = re.findall(r'^strangler_record_dropped_total{.*reason="(\w+)"} ([\d.e+]+)$', httpx.get(
            f"http://127.0.0.1:{on_admin}/metrics", headers={"Authorization": f"Bearer {token}"}, timeout=10).text,
            re.M)
        writer_us = writer_cpu(args, urls["on"], on_admin, token)
        time.sleep(1.0)  # the writer's last batch
    db = sqlite3.connect(tmp / "parity-on.db")
    stored = db.execute("SELECT SUM(count) FROM record_cases").fetchone()[0] or 0
    db.close()
    on, off = rounds["on"], rounds["off"]
    rps = median_interval(paired_ratios([x["rps"] for x in on], [x["rps"] for x in off]))
    p50 = median_interval(paired_ratios([x["p50_c1_ms"] for x in on], [x["p50_c1_ms"] for x in off]))
    cpu_ratio = median_interval(paired_ratios([x["cpu_us"] for x in on], [x["cpu_us"] for x in off]))
    print(f"\nrecording at rate 1.0 vs off, {args.rounds} paired rounds x {args.seconds} s, wrk -c{args.connections}:"
          f"\n  req/s on/off {rps.text(3)}  target >= {RPS_TARGET}: {rps.verdict(RPS_TARGET)}"
          f"\n  p50 on/off at 1 connection {p50.text(3)}  target <= {P50_TARGET}: "
          f"{p50.verdict(P50_TARGET, higher_is_better=False)}"
          f"\n  façade CPU per request on/off (from /proc) {cpu_ratio.text(3)}"
          f"\n  handed to the writer {handed:.0f}, dropped {dropped:.0f} {dict(reasons)}, stored {stored}")
    out = [figures.figure("writer CPU per recorded exchange (its own process)", round(writer_us), "us")]
    if not args.no_callgrind:
        out += instructions(args, tmp, backend, env)
    return out + [figures.figure("record on/off req/s (rate 1.0)", round(rps.median, 3), "x", f">= {RPS_TARGET}",
                           rps.verdict(RPS_TARGET), rps),
            figures.figure("record on/off client p50 (1 connection)", round(p50.median, 3), "x", f"<= {P50_TARGET}",
                           p50.verdict(P50_TARGET, higher_is_better=False), p50),
            figures.figure("records dropped while recording at rate 1.0", f"{dropped:.0f} of {handed + dropped:.0f}")]


def writer_cpu(args: argparse.Namespace, url: str, admin: int, token: str) -> float:
    """Microseconds of the writer process's CPU per recorded exchange, over --writer-requests requests."""
    text = httpx.get(f"http://127.0.0.1:{admin}/metrics", headers={"Authorization": f"Bearer {token}"},
                     timeout=10).text
    found = re.search(r"^strangler_record_writer_pid ([\d.e+]+)$", text, re.M)
    if found is None or not float(found.group(1)):
        raise RuntimeError("the recording façade reports no writer process. Fix: see its log")
    pid = int(float(found.group(1)))
    time.sleep(1.0)  # the rounds' last batch
    before = cpu_seconds(pid)
    with httpx.Client(timeout=30) as client:
        for _ in range(args.writer_requests):
            client.get(url)
    time.sleep(1.0)  # flushed every 0.25 s
    used = cpu_seconds(pid) - before
    print(f"  writer process (pid {pid}): {used:.2f} s CPU for {args.writer_requests} recorded exchanges = "
          f"{used / args.writer_requests * 1e6:.0f} us per exchange", flush=True)
    return used / args.writer_requests * 1e6


def instructions(args: argparse.Namespace, tmp: Path, backend: int, env: dict[str, str]) -> list[dict]:
    arms = {}
    for name, record in (("record on", "    record: {rate: 1.0}\n"), ("record off", "")):
        port, admin = free_port(), free_port()
        routes = tmp / f"callgrind-{name.replace(' ', '-')}.yaml"
        routes.write_text(TABLE.format(backend=backend, record=record))
        arms[name] = (_facade(backend, port, admin, routes, tmp / f"callgrind-{port}.db"), port,
                      f"http://127.0.0.1:{admin}/healthz")
    counted = callgrind_interleaved(arms, "/api/items/7?page=2", warm=args.warm, calls=args.callgrind_calls,
                                    out=tmp / "callgrind.out", env=env)
    (on_busy, _), (off_busy, off_timers) = counted["record on"], counted["record off"]
    added, off_net = on_busy - off_busy, off_busy - off_timers  # the same window: timers cancel in the difference
    bound, bound_raw = off_net / (off_net + added), off_busy / on_busy
    result = verdict(min(bound, bound_raw), max(bound, bound_raw), RPS_TARGET)
    print(f"  instructions per request (callgrind, {args.callgrind_calls} requests after {args.warm}, both façades "
          f"counted together): recording adds {added:+,.0f} to off's {off_net:,.0f} "
          f"({(off_net + added) / off_net:.3f}x); throughput bound off/on {bound:.3f}x ({bound_raw:.3f}x with the "
          f"timers counted) -> {result.upper()} (target >= {RPS_TARGET})", flush=True)
    return [figures.figure("instructions/request recording adds (rate 1.0, callgrind)", round(added), "instr"),
            figures.figure("throughput bound off/on instructions (callgrind)", round(bound, 3), "x",
                           f">= {RPS_TARGET}", result)]


def _captured(i: int, rng: random.Random) -> Captured:
    shape = i % 400  # 400 cases: query keys and body shapes vary
    path = f"/api/items/{i}?" + "&".join(f"k{j}={rng.randint(0, 9)}" for j in range(shape % 5))
    body = orjson.dumps({f"f{j}": i for j in range(shape // 5 % 8)}) if shape % 2 else b""
    return Captured("items", "/api/items/{id}", "POST" if body else "GET", path, ((b"Accept", b"*/*"),), body,
                    len(body), 200, ((b"content-type", b"application/json"),), b'{"ok": true, "items": [1, 2, 3]}',
                    32, 1.0, time.time())


def replay_speed(args: argparse.Namespace, tmp: Path, backend: int) -> list[dict]:
    from proxy.parity.store import ParityStore
    from proxy.record.replay import Replayer
    from proxy.record.storage import RecordingStore
    from proxy.record.writer import Writer
    from proxy.table import parse_table

    table = parse_table(TABLE.format(backend=backend, record="    record: {rate: 1.0}\n"))
    store = ParityStore(tmp / "replay.db", background=False)
    writer = Writer(RecordingStore(store))
    writer.table = table
    rng = random.Random(5)
    for i in range(args.cases):
        writer.add(_captured(i, rng)._replace(method="GET", body=b"", body_size=0))  # reads, as replay sends
    writer.flush()
    recs = RecordingStore(store).recordings("items", limit=args.cases)
    spec = table.features["items"]
    replayer = Replayer("items", spec, table.upstreams["svc"], "svc", table.upstreams["legacy"], store, {},
                        concurrency=32, noise_rate=0.0)
    started, cpu = time.perf_counter(), time.process_time()
    summary = asyncio.run(replayer.run((r, 1.0) for r in recs))
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    store.close()
    rate = summary.compared / elapsed
    per_case = cpu / max(1, summary.compared) * 1e3
    print(f"\nreplay: {summary.compared} cases compared ({summary.equal} equal, {summary.differ} differ, "
          f"{summary.errors} errors) in {elapsed:.2f} s = {rate:.0f} cases/s ({per_case:.2f} ms CPU per case in "
          f"this process); {os.cpu_count()} cores  target >= {REPLAY_TARGET:g}")
    return [figures.bounded(f"replay against a trivial backend ({os.cpu_count()} cores)", rate, "cases/s",
                            REPLAY_TARGET)]


def dedup_speed(args: argparse.Namespace, tmp: Path) -> list[dict]:
    """The signature is computed by the writer when a request is recorded (off the client's path) and counted
    per case then, so deduplicating recordings is grouping them by a stored column. Measured: the signature's
    CPU per request (info), and grouping `--dedup` stored recordings into cases in the parity store (SQLite),
    by the recordings table (GROUP BY signature) and by the case counts `strangler record cases` reads."""
    from proxy.parity.store import ParityStore
    from proxy.record.shape import body_kind, body_shape, query_keys, signature
    from proxy.record.storage import RecordingStore

    rng = random.Random(9)
    requests = [_captured(i, rng) for i in range(min(args.dedup, 100_000))]
    cpu = time.process_time()
    sigs = []
    for c in requests:
        kind, parsed = body_kind(c.body, "application/json" if c.body else None)
        sigs.append(signature(c.method, c.route, query_keys(c.path), body_shape(kind, parsed)))
    per_request_us = (time.process_time() - cpu) / len(requests) * 1e6
    store = ParityStore(tmp / "dedup.db", background=False)
    rows = (("items", "/api/items/{id}", sigs[i % len(sigs)], 0.0, "GET", "/api/items/1", 200, 1.0, 0, 10, "{}",
             "{}") for i in range(args.dedup))
    cases: dict[tuple[str, str], list] = {}
    for s in sigs:
        cases.setdefault(("items", s), ["GET", "/api/items/{id}", "[]", "x", 0, 0.0, 1.0])[4] += 1
    for row in cases.values():
        row[4] = row[4] * args.dedup // len(sigs)
    started = time.perf_counter()
    with store._transaction() as cur:
        cur.executemany("INSERT INTO recordings (feature, route, signature, ts, method, path, status, latency_ms, "
                        "truncated, size, request, response) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
    loaded = time.perf_counter() - started
    RecordingStore(store).write([], cases, {}, {})
    started = time.perf_counter()
    grouped = store._rows("SELECT signature, COUNT(*) AS n FROM recordings WHERE feature = 'items' GROUP BY signature")
    by_rows = time.perf_counter() - started
    started = time.perf_counter()
    found = RecordingStore(store).cases("items")
    by_counts = time.perf_counter() - started
    store.close()
    print(f"\ndedup: signature {per_request_us:.1f} us CPU per request when recorded ({per_request_us:.1f} s per "
          f"1,000,000, in the writer process); {args.dedup:,} stored recordings ({loaded:.1f} s to insert) into "
          f"{len(grouped)} cases: GROUP BY signature {by_rows:.2f} s, case counts {by_counts:.3f} s "
          f"({len(found)} cases; target <= {DEDUP_TARGET_S:g} s)")
    return [figures.bounded(f"dedup of {args.dedup:,} stored recordings into cases (GROUP BY)", by_rows, "s",
                            DEDUP_TARGET_S, higher_is_better=False),
            figures.figure("signature CPU per recorded request (writer)", round(per_request_us, 1), "us")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--seconds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--cases", type=int, default=2000)
    parser.add_argument("--dedup", type=int, default=1_000_000)
    parser.add_argument("--callgrind-calls", type=int, default=100, help="requests counted under callgrind, each")
    parser.add_argument("--warm", type=int, default=20, help="uncounted requests before the callgrind count")
    parser.add_argument("--no-callgrind", action="store_true", help="skip the instruction count")
    parser.add_argument("--writer-requests", type=int, default=2000, help="recorded exchanges the writer CPU is over")
    figures.add_json_option(parser)
    args = parser.parse_args()
    figures.keep_bounded(parser, args, rounds=(1, 40), seconds=(1, 60), connections=(1, 256), cases=(10, 200_000),
                         dedup=(1000, 5_000_000), callgrind_calls=(10, 2000), warm=(1, 1000),
                         writer_requests=(100, 100_000))
    for tool, needed in (("wrk", True), ("valgrind", not args.no_callgrind)):
        if needed and shutil.which(tool) is None:
            sys.exit(f"{tool} is not installed. Fix: apt-get install -y {tool}"
                     + (" (or --no-callgrind)" if tool == "valgrind" else ""))
    load_before = os.getloadavg()
    tmp = Path(tempfile.mkdtemp(prefix="bench-record-"))
    backend = free_port()
    out: list[dict] = []
    with running([str(BIN / "uvicorn"), "load.bench_facade:backend_app", "--port", str(backend), "--log-level",
                  "warning", "--no-access-log"], cwd=ROOT, health_url=f"http://127.0.0.1:{backend}/",
                 log_path=tmp / "backend.log"):
        out += recording_cost(args, tmp, backend)
        out += replay_speed(args, tmp, backend)
    out += dedup_speed(args, tmp)
    print(f"\nmachine: {os.cpu_count()} cores, load average before {load_before[0]:.2f}, after "
          f"{os.getloadavg()[0]:.2f}")
    figures.write(args.json, "bench_record", out, cores=os.cpu_count(), loadavg_before=load_before,
                  loadavg_after=os.getloadavg())


if __name__ == "__main__":
    main()
