"""What issue 16's edge code costs the façade: the façade vs the same façade with that code switched off.

Run: python -m load.bench_reliability_cost [--rounds 8] [--seconds 2] [--connections 16] [--calls 200] [--warm 20]
                                         [--no-callgrind] [--json FILE]
Issue 16's performance clause: none of its fixes may cost the façade more than 2 % req/s, measured before and
after in one run. "Before" is the same façade started through a wrapper script that switches off, in its own
process only, the edge code those fixes added on the path of a 200: the HTTP/1 error writer (JSON 413/502,
lingering close), the retry hook on upstream protocol errors, the close of an upstream connection after a 5xx,
and the malformed-header check. Off is an upper bound of the fixes' cost (the writer also carried the older
JSON 502 pages). The 413 checks stay: they are one header lookup, and the limit predates the issue.
1. Paired rounds (bench_facade's): wrk against both arms next to each other, order alternating; the median of
   the paired req/s ratios with its distribution-free 95 % interval (load/stats.py), target >= 0.98x.
2. Instructions per request under callgrind, both arms counted over the same window (bench_facade's
   callgrind_interleaved): repeatable whatever the machine's load; the ratio off/on bounds the throughput cost.
Prints figures only; never asserts. On 2 cores wrk, both proxies and the backend share the CPU with anything
else running: the load average is printed before and after.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path

from load import figures
from load.bench_facade import BIN, COMMON, ROOT, callgrind_interleaved, cpu_seconds, write_table, wrk
from load.reliability.probes import raw
from load.stats import median_interval, paired_ratios
from strangler.procs import free_port, running

TARGET = 0.98  # at most 2 % req/s
ON, OFF = "façade", "façade, issue-16 edge code off"
WRAPPER = '''"""The façade with issue 16's edge code switched off in this process (load/bench_reliability_cost.py)."""
import sys
sys.path.insert(0, {root!r})
from proxy.addons import errors, guard, keepalive, upstream
errors.install = keepalive.install = lambda: False  # no HTTP/1 error writer, no retry hook
keepalive.retire = lambda flow: None  # upstream connections reused after a 5xx
upstream.install = errors.install
guard.malformed_field = lambda fields: None  # no malformed-header check
from proxy.facade import addons  # noqa: E402,F401
'''


def arms(tmp: Path, backend: int) -> tuple[str, dict[str, tuple[list[str], int, str]]]:
    """(benchmarked path, {arm: (mitmdump argv, proxy port, health URL)}): the façade with and without."""
    path = write_table(tmp / "routes.yaml", backend)
    (tmp / "facade_off.py").write_text(WRAPPER.format(root=str(ROOT)))
    out = {}
    for name, script in ((ON, ROOT / "proxy" / "facade.py"), (OFF, tmp / "facade_off.py")):
        port, admin = free_port(), free_port()
        out[name] = (
            [
                str(BIN / "mitmdump"),
                "--mode",
                f"reverse:http://127.0.0.1:{backend}@127.0.0.1:{port}",
                *COMMON,
                "--set",
                "keep_host_header=true",
                "-s",
                str(script),
                "--set",
                f"strangler_routes={tmp / 'routes.yaml'}",
                "--set",
                f"strangler_admin_port={admin}",
                "--set",
                f"strangler_access_log={tmp / (name[:6] + str(port) + '.jsonl')}",
            ],
            port,
            f"http://127.0.0.1:{admin}/healthz",
        )
    return path, out


def paired(args: argparse.Namespace, tmp: Path, backend: int, env: dict) -> dict:
    path, procs = arms(tmp, backend)
    rounds: dict[str, list[dict]] = {name: [] for name in procs}
    (on_argv, _, on_health), (off_argv, _, off_health) = procs[ON], procs[OFF]
    with (
        running(on_argv, env=env, cwd=ROOT, health_url=on_health, log_path=tmp / "on.log") as on,
        running(off_argv, env=env, cwd=ROOT, health_url=off_health, log_path=tmp / "off.log") as off,
    ):
        pids = {ON: on.pid, OFF: off.pid}
        for name, (_, port, _) in procs.items():  # the wrapper took effect: only the façade refuses this line
            answer = raw(port, f"GET {path} HTTP/1.1\r\nHost: x\r\nX-A: a\r\n folded\r\n\r\n".encode())
            if (b"malformed header line" in answer) != (name == ON):
                sys.exit(f"{name}: an obs-folded header got {answer[:200]!r}; the arms do not differ as intended")
        urls = {name: f"http://127.0.0.1:{port}{path}" for name, (_, port, _) in procs.items()}
        for url in urls.values():  # warm-up
            wrk(url, 1, args.connections)
        for r in range(args.rounds):
            for name in list(urls) if r % 2 == 0 else list(reversed(urls)):
                cpu_before = cpu_seconds(pids[name])
                res = wrk(urls[name], args.seconds, args.connections)
                res["cpu_us"] = 1e6 * (cpu_seconds(pids[name]) - cpu_before) / max(1.0, res["rps"] * args.seconds)
                rounds[name].append(res)
                print(
                    f"round {r + 1:2d} {name:32s} {res['rps']:8.0f} req/s  p50 {res['p50_ms']:6.2f} ms  "
                    f"non-2xx {res['non2xx']} | cpu {res['cpu_us']:.0f} us/req",
                    flush=True,
                )
    on_r, off_r = rounds[ON], rounds[OFF]
    return {
        "rps": median_interval(paired_ratios([x["rps"] for x in on_r], [x["rps"] for x in off_r])),
        "cpu": median_interval(paired_ratios([x["cpu_us"] for x in on_r], [x["cpu_us"] for x in off_r])),
        "path": path,
        "procs": procs,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=8, help="paired wrk rounds")
    ap.add_argument("--seconds", type=int, default=2, help="seconds of wrk per arm and round")
    ap.add_argument("--connections", type=int, default=16, help="wrk connections")
    ap.add_argument("--calls", type=int, default=200, help="requests per arm counted under callgrind")
    ap.add_argument("--warm", type=int, default=20, help="uncounted requests per arm before counting")
    ap.add_argument("--no-callgrind", action="store_true", help="skip the instruction count")
    ap.add_argument("--json", type=Path, help="also write the figures to this file")
    args = ap.parse_args()
    figures.keep_bounded(
        ap, args, rounds=(1, 50), seconds=(1, 60), connections=(1, 256), calls=(1, 5000), warm=(1, 1000)
    )
    for tool, needed in (("wrk", True), ("valgrind", not args.no_callgrind)):
        if needed and shutil.which(tool) is None:
            sys.exit(f"{tool} is not installed. Fix: apt-get install -y {tool}")
    load_before = os.getloadavg()
    tmp = Path(tempfile.mkdtemp(prefix="bench-reliability-cost-"))
    backend = free_port()
    env = {"STRANGLER_ADMIN_TOKEN": os.urandom(16).hex(), "STRANGLER_VAR_DIR": str(tmp / "var")}
    with running(
        [
            str(BIN / "uvicorn"),
            "load.bench_facade:backend_app",
            "--port",
            str(backend),
            "--log-level",
            "warning",
            "--no-access-log",
        ],
        cwd=ROOT,
        health_url=f"http://127.0.0.1:{backend}/",
        log_path=tmp / "backend.log",
    ):
        stats = paired(args, tmp, backend, env)
        counted = (
            {}
            if args.no_callgrind
            else callgrind_interleaved(
                stats["procs"], stats["path"], warm=args.warm, calls=args.calls, out=tmp / "callgrind.out", env=env
            )
        )
    rps, cpu = stats["rps"], stats["cpu"]
    print(
        f"\n{args.rounds} paired rounds x {args.seconds} s per arm, wrk -t1 -c{args.connections}; 500-route table; "
        f"{os.cpu_count()} cores shared by wrk, both proxies, the backend and anything else (load average "
        f"{' '.join(f'{x:.2f}' for x in load_before)} before, {' '.join(f'{x:.2f}' for x in os.getloadavg())} "
        "after):"
    )
    print(f"  req/s {ON} / {OFF} = {rps.text()}: {rps.verdict(TARGET).upper()} (target >= {TARGET}x)")
    print(f"  CPU per request {ON} / {OFF} = {cpu.text()}")
    out = [
        figures.figure(
            "req/s façade / façade with issue-16 edge code off (paired rounds)",
            round(rps.median, 3),
            "x",
            f">= {TARGET}x",
            rps.verdict(TARGET),
            rps,
        ),
        figures.figure("CPU per request façade / edge code off", round(cpu.median, 3), "x", "", "info", cpu),
    ]
    if counted:
        (on_i, on_t), (off_i, off_t) = counted[ON], counted[OFF]
        ratio, ratio_net = off_i / on_i, (off_i - off_t) / (on_i - on_t)
        verdict = (
            "met" if min(ratio, ratio_net) >= TARGET else "missed" if max(ratio, ratio_net) < TARGET else "inconclusive"
        )
        print(
            f"  instructions per request (callgrind, {args.calls} requests after {args.warm}, same window): "
            f"{ON} {on_i:,.0f} (timers ~{on_t:,.0f}), {OFF} {off_i:,.0f} (timers ~{off_t:,.0f}); the edge code "
            f"adds {on_i - off_i:+,.0f}; throughput bound off/on {ratio:.4f}x ({ratio_net:.4f}x without the "
            f"timers) -> {verdict} (target >= {TARGET}x)"
        )
        out += [
            figures.figure(
                "instructions/request the issue-16 edge code adds (callgrind)", round(on_i - off_i), "instr"
            ),
            figures.figure(
                "throughput bound edge code off/on (callgrind)",
                round(min(ratio, ratio_net), 4),
                "x",
                f">= {TARGET}x",
                verdict,
            ),
        ]
    figures.write(args.json, "bench_reliability_cost", out)
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
