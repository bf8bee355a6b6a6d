"""Does the façade decide its target? Façade vs bare mitmdump: paired short rounds and callgrind instructions.

Run: python -m load.bench_facade [--rounds 12] [--seconds 2] [--connections 16] [--calls 200] [--warm 20]
                                 [--no-callgrind] [--json FILE]
1. Paired rounds (default 12 rounds of 2 s): in each round wrk measures bare `mitmdump --mode reverse` (with
   the two mitmproxy options the façade sets: onboarding off, bodies over 4 MiB streamed) and the façade
   (500-route table, metrics and access log on) next to each other, the order alternating; each round gives
   one ratio façade/bare of req/s and of CPU time per request (from /proc) and one difference of p50 at
   1 connection. Printed: the median of the paired figures and its distribution-free 95 % interval
   (load/stats.py). Targets: req/s >= 0.90x of bare mitmdump, p50 added <= 1 ms. When the interval straddles
   the target the verdict is "inconclusive", not a ratio: wrk, proxy and backend share this machine's cores
   with whatever else runs, so a single ratio can land on either side.
2. Instructions per request, counted with callgrind (`valgrind --tool=callgrind`, Debian package valgrind):
   bare mitmdump and the façade under valgrind at once (callgrind_interleaved), started with instrumentation
   off, --warm uncounted requests, then the same fixed count of --calls requests, alternating between them,
   each on its own keep-alive connection, and a second dump after a 20 s idle window (what each one's timers
   cost per second, printed, then scaled to the measured window's length). Counted over the same window, both
   see the same wall-clock time; the façade must count at least as many instructions as bare mitmdump (else
   the figure is implausible and the verdict inconclusive). The throughput bound bare/façade decides the 0.90x
   target when it is on the same side both with each one's timer estimate subtracted and without it, else
   "inconclusive": the timer estimate, not the addons, would decide. What still wakes an idle façade costs per
   second, not per request: the route table file's poll (every strangler_reload_ms, 0.5 s) and the history
   writer (every 10 s, its SQLite write of one bucket per feature and side is most of the idle cost); upstream
   timeouts, the access log's flush, auto-rollback's judge and the admin server wake only when there is work.
   Under callgrind a request takes ~50x longer, so timers weigh far more than at full speed, and the bound with
   the timers counted is the pessimistic side. The idle window is two history periods long, so it never counts
   that tick 0 or 1 times by chance. Instruction counts do not depend on the machine's load, so they are the
   repeatable figure; takes a few minutes (Python under callgrind runs ~50x slower).
Prints and writes figures only; never asserts.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from load import figures
from load.stats import Interval, median_interval, paired_ratios, verdict
from strangler.procs import free_port, running, spawn, stop, wait_http

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
_BODY = b'{"ok": true, "served_by": "bench-backend"}'
COMMON = ["--set", "connection_strategy=lazy", "--set", "flow_detail=0", "--set", "termlog_verbosity=warn"]
# what the façade's guard addon sets in mitmproxy itself: bare mitmdump gets the same, so the difference is addons
AS_FACADE = ["--set", "onboarding=false", "--set", "stream_large_bodies=4m"]
RPS_TARGET, P50_ADDED_TARGET_MS = 0.90, 1.0
IDLE_S = 20.0  # the idle window (two periods of the façade's 10 s history writer), scaled to the measured one


async def backend_app(scope, receive, send):  # trivial ASGI backend, as fast as uvicorn gets
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(_BODY))]})
    await send({"type": "http.response.body", "body": _BODY})


def write_table(path: Path, backend: int) -> str:
    """500 routes (25 features x 20); returns a path that matches a route in state `new`."""
    from load.bench_match import build_table

    table, probes = build_table(500, random.Random(3))
    doc = json.loads(table.model_dump_json(exclude_defaults=True))
    url = f"http://127.0.0.1:{backend}"
    doc["upstreams"] = {"legacy": {"url": url}, "svc": {"url": url + "/"}}
    path.write_text(json.dumps(doc, indent=1))
    return next(p for m, p in probes if "/{" not in p and p.count("/") >= 4)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process and all its threads so far (Linux /proc)."""
    total = 0
    for tid in os.listdir(f"/proc/{pid}/task"):
        fields = Path(f"/proc/{pid}/task/{tid}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def wrk(url: str, seconds: int, connections: int) -> dict:
    out = subprocess.run(["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", url],
                         capture_output=True, text=True, timeout=seconds + 30).stdout
    found = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if found is None:
        raise RuntimeError(f"wrk printed no Requests/sec line: {out[-500:]!r}")
    rps = float(found.group(1))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    lat = dict(re.findall(r"^\s+(50|99)%\s+([\d.]+\w+)", out, re.M))
    return {"rps": rps, "p50_ms": _ms(lat["50"]), "p99_ms": _ms(lat["99"]),
            "non2xx": int(errors.group(1)) if errors else 0}


def _ms(value: str) -> float:
    found = re.match(r"([\d.]+)(\w+)", value)
    if found is None:
        raise ValueError(f"not a wrk latency: {value!r}")
    number, unit = found.groups()
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def proxies(tmp: Path, backend: int) -> tuple[str, dict[str, tuple[list[str], int, str]]]:
    """(benchmarked path, {name: (mitmdump argv, proxy port, health URL)}) for bare mitmdump and the façade.
    The façade's health is its admin /healthz: a proxied request during start-up would abort mitmdump."""
    path = write_table(tmp / "routes.yaml", backend)
    bare, facade, admin = free_port(), free_port(), free_port()
    up = f"http://127.0.0.1:{backend}"
    return path, {
        "bare mitmdump": ([str(BIN / "mitmdump"), "--mode", f"reverse:{up}@127.0.0.1:{bare}", *COMMON, *AS_FACADE],
                          bare, f"http://127.0.0.1:{bare}/"),
        "façade": ([str(BIN / "mitmdump"), "--mode", f"reverse:{up}@127.0.0.1:{facade}", *COMMON,
                    "--set", "keep_host_header=true", "-s", str(ROOT / "proxy" / "facade.py"),
                    "--set", f"strangler_routes={tmp / 'routes.yaml'}", "--set", f"strangler_admin_port={admin}",
                    "--set", f"strangler_access_log={tmp / 'access.jsonl'}"], facade,
                   f"http://127.0.0.1:{admin}/healthz")}


def paired_rounds(args: argparse.Namespace, tmp: Path, backend: int, env: dict) -> dict[str, Interval]:
    path, procs = proxies(tmp, backend)
    rounds: dict[str, list[dict]] = {name: [] for name in procs}
    (bare_argv, _, bare_health), (facade_argv, _, facade_health) = procs["bare mitmdump"], procs["façade"]
    with running(bare_argv, health_url=bare_health, log_path=tmp / "bare.log") as bare_proc, \
            running(facade_argv, env=env, cwd=ROOT, health_url=facade_health, log_path=tmp / "facade.log") as facade:
        pids = {"bare mitmdump": bare_proc.pid, "façade": facade.pid}
        urls = {name: f"http://127.0.0.1:{port}{path}" for name, (_, port, _) in procs.items()}
        for url in urls.values():  # warm-up
            wrk(url, 1, args.connections)
        for r in range(args.rounds):
            for name in (list(urls) if r % 2 == 0 else list(reversed(urls))):
                cpu_before = cpu_seconds(pids[name])
                res = wrk(urls[name], args.seconds, args.connections)
                res["cpu_us"] = 1e6 * (cpu_seconds(pids[name]) - cpu_before) / max(1.0, res["rps"] * args.seconds)
                res["p50_c1_ms"] = wrk(urls[name], args.seconds, 1)["p50_ms"]  # latency without queueing
                rounds[name].append(res)
                print(f"round {r + 1:2d} {name:14s} {res['rps']:8.0f} req/s  p50 {res['p50_ms']:6.2f} ms  "
                      f"non-2xx {res['non2xx']} | 1 connection: p50 {res['p50_c1_ms']:.2f} ms | "
                      f"cpu {res['cpu_us']:.0f} us/req", flush=True)
    f, b = rounds["façade"], rounds["bare mitmdump"]
    return {"rps": median_interval(paired_ratios([x["rps"] for x in f], [x["rps"] for x in b])),
            "cpu": median_interval(paired_ratios([x["cpu_us"] for x in f], [x["cpu_us"] for x in b])),
            "p50_added_ms": median_interval([x["p50_c1_ms"] - y["p50_c1_ms"] for x, y in zip(f, b, strict=True)]),
            "bare_rps": median_interval([x["rps"] for x in b]),
            "bare_cpu_us": median_interval([x["cpu_us"] for x in b])}


def _callgrind(command: str, pid: int) -> None:
    subprocess.run(["callgrind_control", command, str(pid)], check=True, capture_output=True, timeout=300)


def _total(dump: Path) -> int:
    totals = re.search(r"^(?:summary|totals): (\d+)", dump.read_text(), re.M)
    if totals is None:
        raise RuntimeError(f"no instruction total in {dump}. Fix: see valgrind's log next to it")
    return int(totals.group(1))


def callgrind_interleaved(arms: dict[str, tuple[list[str], int, str]], path: str, *, warm: int, calls: int,
                          out: Path, env: dict,
                          headers: dict[str, str] | None = None) -> dict[str, tuple[float, float]]:
    """{arm: (instructions per request, of which timers)} for proxies {arm: (argv, port, health URL)} counted
    over the same wall-clock window. Reused by load/bench_identity.py (its requests carry a logged-in cookie).

    Each mitmdump starts under callgrind with instrumentation off (start-up is not counted and runs ~10x faster),
    serves `warm` requests, then `callgrind_control -i on`, `calls` requests on one keep-alive connection per
    arm, the arms alternating request by request, and a dump; a second dump after an idle window (IDLE_S)
    gives what timers cost per second (printed), scaled to the measured window's length. Each dump zeroes the
    counters. Arms counted together see the same window, so their timers are alike and cancel in a difference
    between arms; one arm's timer estimate is what a ratio leans on."""
    procs = {}
    try:
        for i, (name, (argv, port, health)) in enumerate(arms.items()):
            dump = out if len(arms) == 1 else out.with_name(f"{out.stem}-{i}{out.suffix}")  # and its own .log
            log = dump.with_suffix(".log")
            procs[name] = (spawn(["valgrind", "--tool=callgrind", "--instr-atstart=no",
                                  f"--callgrind-out-file={dump}", *argv], env=env, cwd=ROOT, log_path=log),
                           port, dump, log)
            wait_http(health, timeout=600, proc=procs[name][0], log_path=log)  # not counted: instrumentation is off
        with contextlib.ExitStack() as stack:
            clients = {name: stack.enter_context(httpx.Client(timeout=120)) for name in procs}  # keep-alive each

            def serve(n: int) -> None:
                for _ in range(n):
                    for name, (_, port, _, log) in procs.items():
                        if clients[name].get(f"http://127.0.0.1:{port}{path}", headers=headers).status_code != 200:
                            raise RuntimeError(f"a request under callgrind did not answer 200. Fix: see {log}")

            def dump_all(command: str) -> None:
                for proc, *_ in procs.values():
                    _callgrind(command, proc.pid)
            serve(warm)
            dump_all("--instr=on")
            started = time.monotonic()
            serve(calls)
            dump_all("--dump")
            window = time.monotonic() - started
            idle_started = time.monotonic()
            time.sleep(IDLE_S)
            dump_all("--dump")
            idle_window = time.monotonic() - idle_started
    finally:
        for proc, *_ in procs.values():
            stop(proc, grace=120)
    idle = {name: _total(Path(f"{dump}.2")) / idle_window for name, (_, _, dump, _) in procs.items()}
    for name, per_second in idle.items():
        print(f"callgrind {name:14s} idle: {per_second:,.0f} instructions/s (timers, {idle_window:.1f} s idle window; "
              f"measured window {window:.1f} s)", flush=True)
    return {name: (_total(Path(f"{dump}.1")) / calls, idle[name] * window / calls)
            for name, (_, _, dump, _) in procs.items()}


def instructions_per_request(args: argparse.Namespace, tmp: Path, backend: int,
                             env: dict) -> dict[str, tuple[float, float]]:
    """{arm: (instructions per request, of which timers)} for bare mitmdump and the façade counted together."""
    path, procs = proxies(tmp, backend)
    counted = callgrind_interleaved(procs, path, warm=args.warm, calls=args.calls, out=tmp / "callgrind.out", env=env)
    for name, (busy, timers) in counted.items():
        print(f"callgrind {name:14s} {busy:,.0f} instructions/request, of which timers ~{timers:,.0f} (an idle "
              "window's, scaled to the same time)", flush=True)
    return counted


def instruction_bound(bare: tuple[float, float], facade: tuple[float, float],
                      target: float = RPS_TARGET) -> dict[str, float | str | bool]:
    """Throughput bound bare/façade from (instructions per request, of which timers) counted over the same
    window: `raw` with the timers counted, `net` with each one's timer estimate subtracted; `added` is what
    the addons add (net). The verdict is met/missed only when both bounds are on the same side of `target`,
    and inconclusive when the façade counted fewer instructions than bare mitmdump (`plausible` False) or a
    timer estimate is not below its count."""
    (b_busy, b_timers), (f_busy, f_timers) = bare, facade
    b_net, f_net = b_busy - b_timers, f_busy - f_timers
    raw = b_busy / f_busy
    net = b_net / f_net if b_net > 0 and f_net > 0 else float("nan")
    plausible = f_busy >= b_busy
    decided = plausible and net == net  # nan != nan: no net bound
    return {"raw": raw, "net": net, "added": f_net - b_net, "added_raw": f_busy - b_busy, "plausible": plausible,
            "verdict": verdict(min(raw, net), max(raw, net), target) if decided else "inconclusive"}


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=12, help="paired rounds (>= 6 for a 95 %% interval)")
    ap.add_argument("--seconds", type=int, default=2, help="wrk seconds per arm and round")
    ap.add_argument("--connections", type=int, default=16)
    ap.add_argument("--calls", type=int, default=200, help="requests counted under callgrind")
    ap.add_argument("--warm", type=int, default=20, help="uncounted requests before the callgrind count")
    ap.add_argument("--no-callgrind", action="store_true", help="skip the instruction count")
    figures.add_json_option(ap)
    return ap


def main() -> None:
    ap = parser()
    args = ap.parse_args()
    figures.keep_bounded(ap, args, rounds=(1, 50), seconds=(1, 60), connections=(1, 256), calls=(1, 5000),
                         warm=(1, 1000))
    for tool, needed in (("wrk", True), ("valgrind", not args.no_callgrind)):
        if needed and shutil.which(tool) is None:
            sys.exit(f"{tool} is not installed. Fix: apt-get install -y {tool}"
                     + (" (or --no-callgrind)" if tool == "valgrind" else ""))
    load_before = os.getloadavg()
    tmp = Path(tempfile.mkdtemp(prefix="bench-facade-"))
    backend = free_port()
    env = {"STRANGLER_ADMIN_TOKEN": os.urandom(16).hex(), "STRANGLER_VAR_DIR": str(tmp / "var")}
    with running([str(BIN / "uvicorn"), "load.bench_facade:backend_app", "--port", str(backend),
                  "--log-level", "warning", "--no-access-log"], cwd=ROOT,
                 health_url=f"http://127.0.0.1:{backend}/", log_path=tmp / "backend.log"):
        stats = paired_rounds(args, tmp, backend, env)
        per_request = {} if args.no_callgrind else instructions_per_request(args, tmp, backend, env)
    rps, cpu, added = stats["rps"], stats["cpu"], stats["p50_added_ms"]
    rps_verdict = rps.verdict(RPS_TARGET)
    print(f"\n{args.rounds} paired rounds x {args.seconds} s per arm, wrk -t1 -c{args.connections} (p50 added: -c1); "
          f"500-route table, metrics + access log on; {os.cpu_count()} CPU cores shared by wrk, proxies, backend "
          f"and anything else (load average {' '.join(f'{x:.2f}' for x in load_before)} before, "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())} after):")
    print(f"  bare mitmdump: median {stats['bare_rps'].median:.0f} req/s, "
          f"{stats['bare_cpu_us'].median:.0f} us CPU/request")
    print(f"  req/s façade / bare mitmdump = {rps.text()}: "
          + (f"{rps_verdict.upper()} (target >= {RPS_TARGET}x)" if rps_verdict != "inconclusive" else
             f"INCONCLUSIVE: the interval straddles the target {RPS_TARGET}x; run more --rounds or on a quieter "
             "machine"))
    print(f"  CPU per request façade / bare mitmdump = {cpu.text()} (what the addons cost in the proxy's CPU)")
    print(f"  p50 added at 1 connection (ms) = {added.text()}: {added.verdict(P50_ADDED_TARGET_MS, False)} "
          f"(target <= {P50_ADDED_TARGET_MS:g} ms)")
    out = [figures.figure("req/s façade / bare mitmdump (median of paired rounds)", round(rps.median, 3), "x",
                          f">= {RPS_TARGET}x", rps_verdict, rps),
           figures.figure("CPU per request façade / bare mitmdump", round(cpu.median, 3), "x", "", "info", cpu),
           figures.figure("p50 added at 1 connection", round(added.median, 3), "ms", f"<= {P50_ADDED_TARGET_MS:g} ms",
                          added.verdict(P50_ADDED_TARGET_MS, False), added)]
    keep_tmp = False
    if per_request:
        (b, b_timers), (f, f_timers) = per_request["bare mitmdump"], per_request["façade"]
        bound = instruction_bound((b, b_timers), (f, f_timers))
        print(f"  instructions per request (callgrind, {args.calls} requests after {args.warm}, both counted over the "
              f"same window): bare mitmdump {b:,.0f} (timers ~{b_timers:,.0f}), façade {f:,.0f} (timers "
              f"~{f_timers:,.0f}); the addons add {bound['added']:+,.0f} ({bound['added_raw']:+,.0f} with the "
              f"timers counted); throughput bound bare/façade {bound['net']:.3f}x ({bound['raw']:.3f}x with the "
              f"timers counted) -> {bound['verdict']} (target >= {RPS_TARGET}x)")
        keep_tmp = not bound["plausible"]
        if keep_tmp:
            print("  WARNING: the façade counted fewer instructions than bare mitmdump on the same requests: the "
                  "count is implausible, so no verdict. Fix: rerun with more --calls and look at the valgrind "
                  f"logs in {tmp}")
        out += [figures.figure("instructions/request, bare mitmdump (callgrind)", round(b - b_timers), "instr"),
                figures.figure("instructions/request, façade (callgrind)", round(f - f_timers), "instr"),
                figures.figure("instructions/request the addons add (callgrind, same window)",
                               round(float(bound["added"])), "instr"),
                figures.figure("throughput bound bare/façade instructions, timers counted (callgrind)",
                               round(float(bound["raw"]), 3), "x"),
                figures.figure("throughput bound bare/façade instructions (callgrind)", round(float(bound["net"]), 3),
                               "x", f">= {RPS_TARGET}x", str(bound["verdict"]))]
    figures.write(args.json, "bench_facade", out)
    if not keep_tmp:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
