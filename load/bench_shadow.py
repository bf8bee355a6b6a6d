"""Does shadowing cost the client anything? Client latency and throughput with shadow copies on vs off.

Run: python -m load.bench_shadow [--rounds 3] [--seconds 5] [--connections 16] [--max-in-flight 256]
                                 [--latency-rounds 10] [--workers N] [--body catalog|tiny] [--profile DIR]
                                 [--json FILE]
Four proxies in front of the same fast legacy backend, measured with wrk in alternating rounds:
bare `mitmdump --mode reverse`, the façade with the feature in state `legacy` (shadow off), the façade
in state `shadow` (every request copied to a target slowed by 100 ms, compared and stored by the façade's
shadow workers), and the same with the target timing out (timeout 50 ms < its 100 ms). Both sides answer the
demo's catalog page (50 products as the monolith writes them, a ServerTime that differs on every call: noise).
Prints medians and the three figures of issue 21: shadow worker CPU per compared copy (<= 0.5 ms), copies
shed at sample rate 1.0 at the rate the shadow-on run reaches (<= 1 %), and client p50 at 1 connection with
the target answering and timing out vs shadow off (<= 1.10x) — the last from --latency-rounds short paired
rounds of wrk -c1 (alternating order), as the median of the per-round ratios with a 95 % interval
(load/stats.py): "inconclusive" when the interval straddles 1.10x. Beside them, the machine's floor: the
shadow-off façade while a second wrk keeps the target as busy as the copies do (connections = the shadow-on
client's rate x the target's 100 ms): the target's answers and the loopback traffic with next to no copier.
A floor near 1.10x says the target shares the client's cores, not that the shadow costs the client that much.
And the workers' CPU per compared copy during those 1-connection rounds: there a worker wakes for a few copies
at a time, so a copy costs more than at 16 connections, and it is what the p50 ratio grows with.
Also CPU per request of each proxy (from
/proc: steadier than req/s on a shared machine; what the façade's own process adds, counted repeatably, is
load/bench_shadow_cost.py's figure). Generator, proxies, workers and backends share this machine's CPU
cores: the figures are relative. `--profile DIR` writes a cProfile of each shadow worker there
(STRANGLER_SHADOW_PROFILE; read with `python -m pstats`). Prints only; never asserts.
"""
from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import httpx

from load import figures
from load.bench_facade import cpu_seconds, wrk
from load.stats import Interval, median_interval, paired_ratios
from strangler.procs import free_port, running

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
DELAY_S = 0.1
FACADES = {"shadow off": ("legacy", 5), "shadow on": ("shadow", 5), "shadow timeout": ("shadow", 0.05)}
TARGET_CPU_MS, TARGET_SHED_PCT, TARGET_P50_RATIO = 0.5, 1.0, 1.10
LATENCY_SECONDS = 1  # per arm and latency round: ~500 requests at 1 connection, a steady p50
FLOOR = "target load only"  # latency arm: shadow off, the target kept busy by wrk at the copies' rate
# copies shed for want of capacity; other drops (a client that hung up before its answer: served_side_failed,
# e.g. wrk's open requests when a round ends) are printed with the counters but are no shedding
SHED = ("in_flight_cap", "worker_lagging", "worker_down", "worker_died")
_TINY = b'{"ok": true, "items": [1, 2, 3]}'


def catalog_page(server_time: str) -> bytes:
    """A page of GET /api/products in the demo monolith's shape (written out here: the kit's load/ never
    imports the demo, tests/unit/test_architecture.py)."""
    items = [{"ProductId": i, "Sku": f"SKU-{i:05d}", "Name": f"Product {i}", "Description": f"Description of {i}",
              "Category": ("TOOLS", "GARDEN", "KITCHEN")[i % 3], "UnitPrice": f"{i}.50", "Active": "Y",
              "Created": "01/02/2024 10:00", "Updated": "03/04/2024 11:30", "Available": i % 7}
             for i in range(1, 51)]
    return json.dumps({"Products": items, "Page": 1, "PageSize": 50, "Total": 2000,
                       "ServerTime": server_time}).encode()


_BODIES = {"catalog": catalog_page, "tiny": lambda _: _TINY}
_body = _BODIES[os.environ.get("BENCH_SHADOW_BODY", "catalog")]


def _answer() -> bytes:
    return _body(time.strftime("%d/%m/%Y %H:%M:%S") + f".{time.time_ns() % 1_000_000_000:09d}")

TABLE = """\
upstreams:
  legacy: {{url: "http://127.0.0.1:{legacy}"}}
  slow: {{url: "http://127.0.0.1:{slow}", timeout_s: {timeout}}}
default: legacy
features:
  bench:
    target: slow
    state: {state}
    routes:
      - {{methods: [GET], path: "/bench/{{id}}"}}
    parity: {{sample_rate: 1.0, noise_sample_rate: 0.1, max_in_flight: {max_in_flight}}}
"""


async def slow_app(scope, receive, send):
    """The shadow target: the same answer as the backend, 100 ms later."""
    if scope["type"] != "http":
        return
    if scope["path"] != "/healthz":
        await asyncio.sleep(DELAY_S)
    body = _answer()
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]})
    await send({"type": "http.response.body", "body": body})



async def legacy_app(scope, receive, send):
    if scope["type"] != "http":
        return
    body = _answer()
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]})
    await send({"type": "http.response.body", "body": body})


def _uvicorn(app: str, port: int) -> list[str]:
    return [str(BIN / "uvicorn"), app, "--port", str(port), "--log-level", "warning", "--no-access-log"]


def _facade(legacy: int, port: int, admin: int, routes: Path, db: Path, workers: int | None) -> list[str]:
    return [str(BIN / "mitmdump"), "--mode", f"reverse:http://127.0.0.1:{legacy}@127.0.0.1:{port}",
            "--set", "connection_strategy=lazy", "--set", "flow_detail=0", "--set", "termlog_verbosity=warn",
            "--set", "keep_host_header=true", "-s", str(ROOT / "proxy" / "facade.py"),
            "--set", f"strangler_routes={routes}", "--set", f"strangler_admin_port={admin}",
            "--set", f"strangler_parity_db={db}",
            *(["--set", f"strangler_shadow_workers={workers}"] if workers is not None else [])]


def _metrics(admin: int, token: str) -> str:
    return httpx.get(f"http://127.0.0.1:{admin}/metrics", headers={"Authorization": f"Bearer {token}"},
                     timeout=10).text


def _worker_pids(facade: int, expected: int | None) -> list[int]:
    """The façade's shadow worker processes (its children running proxy.shadow.worker; they take a moment).
    `expected` None: the façade's default count (an older façade has one worker), so as many as have started
    once the first has and 3 s more have passed."""
    pids: list[int] = []
    for _ in range(150):
        pids = _children(facade)
        if pids and (expected is None or len(pids) >= expected):
            if expected is None:
                time.sleep(3)
                pids = _children(facade)
            return pids
        time.sleep(0.1)
    raise SystemExit(f"the façade's shadow workers did not start ({len(pids)} of {expected or 1}; see its log)")


def _children(facade: int) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
                if ppid == facade and b"proxy.shadow.worker" in (entry / "cmdline").read_bytes():
                    pids.append(int(entry.name))
            except (OSError, IndexError, ValueError):
                continue  # exited meanwhile
    return pids


def _cpu(pids: list[int]) -> float:
    return sum(cpu_seconds(p) for p in pids)


LOAD_BEFORE = ""


def main() -> None:
    global LOAD_BEFORE
    LOAD_BEFORE = " ".join(f"{x:.2f}" for x in os.getloadavg())
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seconds", type=int, default=5)
    ap.add_argument("--connections", type=int, default=16)
    ap.add_argument("--latency-rounds", type=int, default=10,
                    help="paired rounds of wrk -c1 (1 s per arm) for the client p50 ratios (>= 6 for an interval)")
    ap.add_argument("--max-in-flight", type=int, default=256,
                    help="the feature's parity.max_in_flight: at least request rate x target latency (100 ms) to "
                         "shed nothing at sample rate 1.0")
    ap.add_argument("--workers", type=int, default=None,
                    help="strangler_shadow_workers of the façades (default: theirs, from the CPU count)")
    ap.add_argument("--body", choices=sorted(_BODIES), default="catalog",
                    help="what both backends answer: the demo's catalog page (default) or a 32-byte JSON")
    ap.add_argument("--profile", type=Path, metavar="DIR", help="write a cProfile of each shadow worker to DIR")
    ap.add_argument("--pause-workers", action="store_true",
                    help="SIGSTOP the shadow workers: the façades still decide and hand over every job (until the "
                         "pipe is full, then drop as worker_lagging); isolates the façade's own cost from CPU "
                         "contention with the worker on a small machine")
    figures.add_json_option(ap)
    args = ap.parse_args()
    figures.keep_bounded(ap, args, rounds=(1, 50), seconds=(1, 120), connections=(1, 512),
                         max_in_flight=(1, 100_000), latency_rounds=(1, 100))
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed: apt-get install -y wrk")
    tmp = Path(tempfile.mkdtemp(prefix="bench-shadow-"))
    legacy, slow, bare = free_port(), free_port(), free_port()
    ports = {name: (free_port(), free_port()) for name in FACADES}
    token = os.urandom(16).hex()
    env = {"STRANGLER_ADMIN_TOKEN": token, "STRANGLER_VAR_DIR": str(tmp / "var"), "BENCH_SHADOW_BODY": args.body}
    if args.profile is not None:
        args.profile.mkdir(parents=True, exist_ok=True)
        env["STRANGLER_SHADOW_PROFILE"] = str(args.profile.resolve())
    results: dict[str, list[dict]] = {"bare mitmdump": [], **{name: [] for name in FACADES}}
    pids: dict[str, int] = {}
    compared: dict[str, float] = {}  # shadow on: comparisons during its -c rounds (for CPU per copy)
    worker_cpu_s = 0.0
    path = "/bench/42"
    with ExitStack() as stack:
        backend_env = {"BENCH_SHADOW_BODY": args.body}
        stack.enter_context(running(_uvicorn("load.bench_shadow:legacy_app", legacy), cwd=ROOT, env=backend_env,
                                    health_url=f"http://127.0.0.1:{legacy}/healthz", log_path=tmp / "legacy.log"))
        stack.enter_context(running(_uvicorn("load.bench_shadow:slow_app", slow), cwd=ROOT, env=backend_env,
                                    health_url=f"http://127.0.0.1:{slow}/healthz", log_path=tmp / "slow.log"))
        pids["bare mitmdump"] = stack.enter_context(running(
            [str(BIN / "mitmdump"), "--mode", f"reverse:http://127.0.0.1:{legacy}@127.0.0.1:{bare}",
             "--set", "connection_strategy=lazy", "--set", "flow_detail=0", "--set", "termlog_verbosity=warn"],
            health_url=f"http://127.0.0.1:{bare}/healthz", log_path=tmp / "bare.log")).pid
        workers: dict[str, list[int]] = {}
        for name, (port, admin) in ports.items():
            state, timeout = FACADES[name]
            routes = tmp / f"{name.replace(' ', '-')}.yaml"
            routes.write_text(TABLE.format(legacy=legacy, slow=slow, state=state, timeout=timeout,
                                           max_in_flight=args.max_in_flight))
            pids[name] = stack.enter_context(running(
                _facade(legacy, port, admin, routes, tmp / "parity.db", args.workers), env=env, cwd=ROOT,
                health_url=f"http://127.0.0.1:{admin}/healthz", log_path=tmp / f"{name.replace(' ', '-')}.log")).pid
            workers[name] = _worker_pids(pids[name], args.workers)
        targets = {"bare mitmdump": bare, **{n: p for n, (p, _) in ports.items()}}
        if args.pause_workers:
            for pid in (p for group in workers.values() for p in group):
                os.kill(pid, signal.SIGSTOP)
                stack.callback(os.kill, pid, signal.SIGCONT)  # so it can drain and exit with its façade
        for port in targets.values():  # warm-up
            wrk(f"http://127.0.0.1:{port}{path}", 1, args.connections)
        for r in range(args.rounds):
            order = list(targets.items()) if r % 2 == 0 else list(reversed(targets.items()))
            for name, port in order:
                mine = workers.get(name, [])
                seen = _counter(_metrics(ports["shadow on"][1], token), "strangler_shadow_comparisons_total") \
                    if name == "shadow on" else 0.0
                cpu = {"proxy": cpu_seconds(pids[name]), "worker": _cpu(mine)}
                res = wrk(f"http://127.0.0.1:{port}{path}", args.seconds, args.connections)
                done = max(1.0, res["rps"] * args.seconds)
                res["cpu_us"] = 1e6 * (cpu_seconds(pids[name]) - cpu["proxy"]) / done
                res["worker_cpu_us"] = 1e6 * (_cpu(mine) - cpu["worker"]) / done
                if name == "shadow on":  # the copies compared in this round and the worker CPU they took
                    worker_cpu_s += _cpu(mine) - cpu["worker"]
                    compared[str(r)] = _counter(_metrics(ports["shadow on"][1], token),
                                                "strangler_shadow_comparisons_total") - seen
                results[name].append(res)
                print(f"round {r + 1} {name:14s} {res['rps']:8.0f} req/s  p50 {res['p50_ms']:6.2f} ms  "
                      f"non-2xx {res['non2xx']} | cpu {res['cpu_us']:.0f} us/req (+ worker "
                      f"{res['worker_cpu_us']:.0f})", flush=True)
        metrics = {name: _metrics(ports[name][1], token) for name in ("shadow on", "shadow timeout")}
        copiers = {name: (workers[name], ports[name][1], token) for name in ("shadow on", "shadow timeout")}
        latency, one_conn_ms = _latency_rounds(targets, path, args.latency_rounds, f"http://127.0.0.1:{slow}{path}",
                                               copiers)
    keys = ("rps", "p50_ms", "cpu_us", "worker_cpu_us")
    med = {n: {k: statistics.median(x[k] for x in rs) for k in keys} for n, rs in results.items()}
    print(f"\nmedians over {args.rounds} rounds x {args.seconds}s, wrk -t1 -c{args.connections} and -c1, shadow "
          f"target slowed by {DELAY_S * 1000:.0f} ms; {os.cpu_count()} CPU cores shared by wrk, 4 proxies, the "
          f"shadow workers and 2 backends (load average before: {LOAD_BEFORE}):")
    for n, m in med.items():
        print(f"  {n:14s} {m['rps']:8.0f} req/s  p50 {m['p50_ms']:6.2f} ms | 1 connection: p50 "
              f"{statistics.median(latency[n]):.2f} ms | cpu {m['cpu_us']:.0f} us/req + worker "
              f"{m['worker_cpu_us']:.0f}")
    on, off, bare_m = med["shadow on"], med["shadow off"], med["bare mitmdump"]
    on_ratio = median_interval(paired_ratios(latency["shadow on"], latency["shadow off"]))
    late_ratio = median_interval(paired_ratios(latency["shadow timeout"], latency["shadow off"]))
    floor_ratio = median_interval(paired_ratios(latency[FLOOR], latency["shadow off"]))
    print(f"  client p50 at 1 connection ({args.latency_rounds} paired rounds of {LATENCY_SECONDS} s per arm): "
          f"shadow on / off = {on_ratio.text()}, target timing out / off = {late_ratio.text()} (target <= "
          f"{TARGET_P50_RATIO}x)")
    print(f"  shadow worker CPU per compared copy at 1 connection (all workers, the latency rounds): shadow on "
          f"{one_conn_ms['shadow on']:.3f} ms, target timing out {one_conn_ms['shadow timeout']:.3f} ms (the "
          f"client's p50 cost grows with it: the workers share the client's cores)")
    print(f"  the machine's floor: shadow off with the target answering wrk at the copies' rate / shadow off = "
          f"{floor_ratio.text()}; shadow on / that = "
          f"{median_interval(paired_ratios(latency['shadow on'], latency[FLOOR])).text()}")
    print(f"  req/s façade in shadow / bare mitmdump = {on['rps'] / bare_m['rps']:.2f}x; "
          f"shadow on / off = {on['rps'] / off['rps']:.2f}x")
    print(f"  façade CPU per request: shadow on {on['cpu_us']:.0f} us, off {off['cpu_us']:.0f} us, bare mitmdump "
          f"{bare_m['cpu_us']:.0f} us (shadow adds {on['cpu_us'] - off['cpu_us']:+.0f} us in the façade; the copy, "
          f"comparison and store write cost {on['worker_cpu_us']:.0f} us in the worker process)")
    for name, text in metrics.items():
        counted = [line for line in text.splitlines() if line.startswith((
            "strangler_shadow_dropped_total", "strangler_shadow_comparisons_total", "strangler_shadow_requests_total"))]
        print(f"  shadow counters ({name} façade):\n    " + "\n    ".join(counted))
    shed = sum(_counter(metrics["shadow on"], "strangler_shadow_dropped_total", f'reason="{r}"') for r in SHED)
    done = _counter(metrics["shadow on"], "strangler_shadow_comparisons_total")
    per_copy_ms = 1000 * worker_cpu_s / max(1.0, sum(compared.values()))
    shed_pct = 100 * shed / max(1.0, shed + done)
    n_workers = len(workers["shadow on"])
    print(f"\nissue 21 figures ({args.body} answers, max_in_flight {args.max_in_flight}, {n_workers} shadow "
          f"worker{'s' if n_workers != 1 else ''} per façade):")
    for label, value, target in (
            (f"shadow worker CPU per compared copy (all workers): {per_copy_ms:.3f} ms", per_copy_ms, TARGET_CPU_MS),
            (f"copies shed at sample rate 1.0 at {on['rps']:.0f} req/s (shadow on): {shed_pct:.1f} % "
             f"({shed:.0f} of {shed + done:.0f})", shed_pct, TARGET_SHED_PCT)):
        print(f"  {label}  target <= {target:g}: {'met' if value <= target else 'NOT met'}")
    for label, interval in (("client p50 shadow on / off (1 connection)", on_ratio),
                            ("client p50 with a timing-out target / shadow off (1 connection)", late_ratio)):
        print(f"  {label}: {interval.text()}  target <= {TARGET_P50_RATIO:g}: "
              f"{interval.verdict(TARGET_P50_RATIO, higher_is_better=False)}")
    figures.write(args.json, "bench_shadow", [
        _ratio_figure("client p50 shadow on / off (1 connection)", on_ratio),
        _ratio_figure("client p50 target timing out / off (1 connection)", late_ratio),
        figures.bounded("copies shed at sample rate 1.0 (shadow on)", shed_pct, "%", TARGET_SHED_PCT,
                        higher_is_better=False, digits=1),
        figures.bounded("shadow worker CPU per compared copy", per_copy_ms, "ms", TARGET_CPU_MS,
                        higher_is_better=False, digits=3),
        figures.figure("shadow worker CPU per request (shadow on)", round(on["worker_cpu_us"]), "µs"),
        *(figures.figure(f"shadow worker CPU per compared copy at 1 connection ({label})",
                         round(one_conn_ms[name], 3), "ms")
          for name, label in (("shadow on", "shadow on"), ("shadow timeout", "target timing out"))),
        figures.figure("client p50 shadow off with the target kept busy by wrk / off (1 connection; the "
                       "machine's floor)", round(floor_ratio.median, 3), "x", interval=floor_ratio)])
    shutil.rmtree(tmp, ignore_errors=True)


def _latency_rounds(targets: dict[str, int], path: str, rounds: int, target_url: str,
                    copiers: dict[str, tuple[list[int], int, str]]) -> tuple[dict[str, list[float]], dict[str, float]]:
    """Client p50 (ms) of each proxy at 1 connection (no queueing: what one client waits), in `rounds` short
    rounds in alternating order, so drift in the machine's load hits every arm alike; a pause between arms lets
    the previous arm's in-flight copies (100 ms target) finish first. The FLOOR arm measures the shadow-off
    façade while wrk keeps the target answering at the rate of the copies (the last shadow-on figure's).
    Also, per shadowing arm in `copiers` (its worker pids, admin port, token): its workers' CPU per compared
    copy over these rounds, in ms. At 1 connection a worker wakes for a few copies at a time, so a copy costs
    more than in the 16-connection rounds; it is the CPU the client's cores lose while its p50 is measured."""
    arms = [*targets, FLOOR]
    p50: dict[str, list[float]] = {name: [] for name in arms}
    spent = {name: [0.0, 0.0] for name in copiers}  # worker CPU seconds, comparisons
    for r in range(rounds):
        order = arms if r % 2 == 0 else arms[::-1]
        if order[0] == FLOOR:  # the copies' rate is known from a shadow-on figure first
            order = [order[1], FLOOR, *order[2:]]
        for name in order:
            time.sleep(0.3)
            url = f"http://127.0.0.1:{targets['shadow off' if name == FLOOR else name]}{path}"
            side: contextlib.AbstractContextManager[None] = contextlib.nullcontext()
            if name == FLOOR:
                rate_from = p50["shadow on"] or p50["shadow off"]  # the copies come at the shadow-on client's rate
                connections = max(1, round(DELAY_S * 1000 / rate_from[-1]))  # rate x 100 ms = copies in flight
                side = _side_load(target_url, connections)
            before = _copy_spend(copiers[name]) if name in copiers else None
            with side:
                p50[name].append(wrk(url, LATENCY_SECONDS, 1)["p50_ms"])
            if before is not None:
                time.sleep(DELAY_S * 2)  # its last copies answered (or timed out) and compared
                after = _copy_spend(copiers[name])
                spent[name] = [total + a - b for total, a, b in zip(spent[name], after, before, strict=True)]
        print(f"latency round {r + 1}: " + ", ".join(f"{n} {p50[n][-1]:.2f} ms" for n in arms), flush=True)
    return p50, {name: 1000 * cpu_s / max(1.0, compared) for name, (cpu_s, compared) in spent.items()}


def _copy_spend(copier: tuple[list[int], int, str]) -> tuple[float, float]:
    """A shadowing façade's workers' CPU seconds so far and its comparisons so far."""
    pids, admin, token = copier
    return _cpu(pids), _counter(_metrics(admin, token), "strangler_shadow_comparisons_total")


@contextlib.contextmanager
def _side_load(url: str, connections: int) -> Iterator[None]:
    """wrk at `connections` against `url` for the length of one latency arm (plus its start), bounded."""
    side = subprocess.Popen(["wrk", "-t1", f"-c{connections}", f"-d{LATENCY_SECONDS + 1}s", url],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
    try:
        time.sleep(0.3)  # its connections open and the target's answers flow before the client starts
        yield
    finally:
        try:
            side.wait(timeout=LATENCY_SECONDS + 30)
        except subprocess.TimeoutExpired:
            side.kill()
            side.wait()


def _ratio_figure(name: str, interval: Interval) -> dict:
    return figures.figure(name, round(interval.median, 3), "x", f"<= {TARGET_P50_RATIO:g} x",
                          interval.verdict(TARGET_P50_RATIO, higher_is_better=False), interval)


def _counter(text: str, name: str, label: str = "") -> float:
    """Sum of a Prometheus counter's samples over all labels (those with `label` when given)."""
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
               if line.startswith(name + "{") and label in line)


if __name__ == "__main__":
    main()
