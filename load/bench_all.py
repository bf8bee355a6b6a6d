"""Run every benchmark under load/ once and write the one benchmark table, docs/benchmarks.md.

Run: python -m load.bench_all [--full] [--only bench_facade bench_match ...] [--out docs/benchmarks.md]
                              [--save run.json] [--timeout 1500]
       python -m load.bench_all --render run.json   (the table again from a saved run; runs nothing)
Each benchmark runs in its own process with `--json FILE` and a short "quick" parameter set (whole run about
15-20 minutes on a quiet 2-core machine, twice that on a busy one; `--full` uses each benchmark's own defaults
instead). bench_demo_busy (the whole demo, 10-30 minutes) is listed as skipped unless named with --only.
The table is rendered from those JSON files, never from printed text, with the machine (cores, CPU model),
the load average before and after and the date: figures are never copied by hand. A benchmark whose tools
are missing is listed as skipped (with the fix); one that fails is listed as failed (its exit code), and the
run goes on.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from proxy.common.clock import stamp

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "benchmarks.md"
# name -> (quick arguments, tools it needs). Order: cheap and CPU-only first, whole stacks last.
BENCHES: dict[str, tuple[list[str], list[str]]] = {
    "bench_match": (["--routes", "10000", "--lookups", "20000"], []),
    "bench_footprint": (["--statements", "200000"], []),
    "bench_backfill": (["--rows", "50000", "--small", "10000"], []),
    "bench_facade": (["--rounds", "10", "--seconds", "2", "--calls", "60", "--warm", "10"], ["wrk", "valgrind"]),
    "bench_shadow": (["--rounds", "2", "--seconds", "2", "--latency-rounds", "20"], ["wrk"]),
    "bench_shadow_cost": (["--calls", "100", "--warm", "20"], ["valgrind"]),
    "bench_catalog": (["--rounds", "10", "--duration", "2", "--products", "500"], ["wrk"]),
    "bench_orders": (["--rounds", "6", "--duration", "2"], []),
    "bench_parity": (["--rounds", "3", "--seconds", "10"], []),
    "bench_identity": (["--rounds", "6", "--seconds", "2", "--cold", "100", "--callgrind-calls", "60", "--warm", "10"],
                       ["wrk", "valgrind"]),
    "bench_dashboard": (["--requests", "150", "--rounds", "6", "--seconds", "2"], ["wrk"]),
    "bench_nginx": (["--placement", "pinned", "--rounds", "6", "--seconds", "2"], ["wrk", "nginx", "taskset"]),
    "bench_reliability": (["--examples", "3", "--flips", "10", "--soak-seconds", "20"], []),
    "bench_reliability_cost": (["--rounds", "4", "--seconds", "2", "--calls", "100", "--warm", "10"],
                               ["wrk", "valgrind"]),
    "bench_write_safety": (["--clients", "4", "--writes", "3", "--rounds", "1", "--products", "100"], []),
    "bench_record": (["--rounds", "6", "--seconds", "2", "--cases", "1000", "--dedup", "1000000"],
                     ["wrk", "valgrind"]),
    "bench_demo_busy": ([], []),
}
# Listed in every table, run only when asked (--only NAME, or --full): too long for the quick set.
LONG = {"bench_demo_busy": "runs the whole demo walkthrough beside CPU burners (10-30 minutes)"}
HEADINGS = ("# Benchmarks", "## The run", "## Figures", "## Reading the table")
COLUMNS = "| benchmark | figure | value | target | verdict | command |"


def machine() -> dict[str, object]:
    model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")), platform.processor() or "unknown") \
        if Path("/proc/cpuinfo").exists() else platform.processor() or "unknown"
    return {"nproc": os.cpu_count(), "model": model, "python": platform.python_version(),
            "system": f"{platform.system()} {platform.release()}"}


def loadavg() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def left_out(name: str, full: bool, only: list[str] | None) -> dict | None:
    """A long benchmark's table row in a quick run of everything (it runs when named or with --full)."""
    if name not in LONG or full or only:
        return None
    return {"bench": name, "command": ["python", "-m", f"load.{name}"], "status": "skipped",
            "reason": f"not in the quick set: {LONG[name]}. Fix: python -m load.bench_all --only {name}"}


def run_bench(name: str, args: list[str], tools: list[str], tmp: Path, timeout: float) -> dict:
    """One benchmark in its own process; its JSON figures, or why there are none."""
    command = ["python", "-m", f"load.{name}", *args]
    missing = [t for t in tools if shutil.which(t) is None]
    if missing:
        return {"bench": name, "command": command, "status": "skipped",
                "reason": f"{', '.join(missing)} not installed. Fix: apt-get install -y {' '.join(missing)}"}
    out, log = tmp / f"{name}.json", tmp / f"{name}.log"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    started = time.monotonic()
    print(f"{stamp()[11:19]} {' '.join(command)}", flush=True)  # time of day: a progress line
    with log.open("w") as log_file:
        proc = subprocess.Popen([sys.executable, "-m", f"load.{name}", *args, "--json", str(out)], cwd=ROOT,
                                env=env, stdout=log_file, stderr=subprocess.STDOUT)
        code: int | str
        try:
            code = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:  # SIGINT first: the benchmark's `finally` stops the servers it started
            code = "timeout"
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=120)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
    seconds = round(time.monotonic() - started, 1)
    tail = log.read_text(errors="replace").strip().splitlines()[-1:] or [""]
    if not out.exists():
        return {"bench": name, "command": command, "status": "failed", "seconds": seconds,
                "reason": f"exit {code}{' after ' + str(timeout) + ' s' if code == 'timeout' else ''}: {tail[0][:200]}"}
    doc = json.loads(out.read_text())
    return {"bench": name, "command": command, "status": "ran", "seconds": seconds, "exit": code,
            "figures": doc["figures"]}


def _num(value: object) -> str:
    """Three significant digits below 100 (1.00, 0.946, 13.3), whole thousands-separated numbers above."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    if isinstance(value, int) or abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:#.3g}".rstrip(".")


def _value(fig: dict) -> str:
    text = _num(fig["value"]) + (f" {fig['unit']}" if fig.get("unit") else "")
    if "interval" in fig:
        low, high, coverage, n = fig["interval"]
        text += f" [{_num(low)}, {_num(high)}] ({coverage:.0%}, n={n})" if coverage else f" (n={n}, no interval)"
    return text


def _cell(text: object) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def render(run: dict) -> str:
    """docs/benchmarks.md from one run (bench_all's --save JSON)."""
    m = run["machine"]
    lines = [HEADINGS[0], "",
             "Generated by `python -m load.bench_all` from one run of every benchmark under `load/` (each one's "
             "`--json` figures); do not edit by hand — rerun it. Figures are relative to this machine at this "
             "load: generator, proxies and backends share its cores.", "",
             HEADINGS[1], "",
             f"- date: {run['start']} – {run['end']} ({run['seconds']:.0f} s)",
             f"- machine: {m['nproc']} cores (nproc), {m['model']}; {m['system']}, Python {m['python']}",
             f"- load average (1 / 5 / 15 min): before {' / '.join(map(str, run['load_before']))}, "
             f"after {' / '.join(map(str, run['load_after']))}",
             f"- parameters: {'each benchmark’s defaults (--full)' if run['full'] else 'quick (bench_all defaults)'}",
             "", HEADINGS[2], "", COLUMNS, "|---|---|---|---|---|---|"]
    for bench in run["benches"]:
        command = f"`{' '.join(bench['command'])}`"
        if bench["status"] != "ran":
            lines.append(f"| {bench['bench']} | — | — | — | {bench['status']}: {_cell(bench['reason'])} | {command} |")
            continue
        for fig in bench["figures"]:
            lines.append(f"| {bench['bench']} | {_cell(fig['name'])} | {_cell(_value(fig))} | "
                         f"{_cell(fig['target']) or '—'} | {fig['verdict']} | {command} |")
    lines += ["", HEADINGS[3], "",
              "- **met** / **missed**: the figure (or the whole 95 % interval of a paired-round median, in brackets "
              "with its exact coverage and the number of rounds) is on that side of the target.",
              "- **inconclusive**: the interval straddles the target — the run cannot decide; rerun with more "
              "rounds or on a quieter machine (the load average above says how busy it was).",
              "- **info**: no target; context for the figures that have one.",
              "- **skipped** / **failed**: the benchmark's tools are missing, or it exited without figures "
              "(its log is in the run's temporary folder, printed by bench_all).", ""]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--full", action="store_true", help="each benchmark's own defaults instead of the quick set")
    ap.add_argument("--only", nargs="+", choices=list(BENCHES), help="run these benchmarks only")
    ap.add_argument("--out", type=Path, default=OUT, help="the table to write (default docs/benchmarks.md)")
    ap.add_argument("--save", type=Path, help="also write the whole run (machine, load, figures) as JSON")
    ap.add_argument("--timeout", type=float, default=1500, help="seconds one benchmark may take (1..3600)")
    ap.add_argument("--render", type=Path, metavar="RUN_JSON", help="run nothing: write the table again from a "
                    "run saved with --save (after a change to the layout)")
    args = ap.parse_args()
    if args.render:
        args.out.write_text(render(json.loads(args.render.read_text())))
        print(f"wrote {args.out} from {args.render}")
        return
    if not 1 <= args.timeout <= 3600:
        ap.error("--timeout must be 1..3600 seconds")
    started = time.monotonic()
    run = {"start": stamp(), "machine": machine(), "load_before": loadavg(),
           "full": args.full, "benches": []}
    tmp = Path(tempfile.mkdtemp(prefix="bench-all-"))
    print(f"logs in {tmp}", flush=True)
    for name, (quick, tools) in BENCHES.items():
        if args.only and name not in args.only:
            continue
        result = left_out(name, args.full, args.only) or run_bench(name, [] if args.full else quick, tools, tmp,
                                                                   args.timeout)
        run["benches"].append(result)
        verdicts = [f["verdict"] for f in result.get("figures", [])]
        print(f"  {result['status']} {result.get('seconds', 0)} s: {', '.join(verdicts) or result.get('reason')}",
              flush=True)
    run |= {"end": stamp(), "load_after": loadavg(),
            "seconds": time.monotonic() - started}
    if args.save:
        args.save.write_text(json.dumps(run, indent=1))
    args.out.write_text(render(run))
    print(f"wrote {args.out} ({run['seconds']:.0f} s)")


if __name__ == "__main__":
    main()
