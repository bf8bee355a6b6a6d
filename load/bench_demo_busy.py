"""The demo on a busy machine: `strangler demo` (migration_plan.md, verbatim) with CPU burners beside it.

Run: python -m load.bench_demo_busy [--burners 2] [--max-seconds 1800] [--var-dir DIR] [--keep-going] [--json FILE]
A benchmark, not a test: it takes many minutes and its timings depend on the machine. Each burner is a
process spinning one core; burners stop when the demo ends, and on their own after --max-seconds whatever
happens (they are bounded loops, so an interrupted run leaves nothing spinning). The demo runs on free ports
(STRANGLER_PORT_*, STRANGLER_ADMIN_PORT) so another stack on the machine cannot refuse it; the document is
not changed. Prints the demo's verdict, its wall time, each step's time, the shadow errors it met with
their causes, and any traceback in the transcript (a Locust CSV writer traceback included).
"""
from __future__ import annotations

import argparse
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from load import figures

ROOT = Path(__file__).resolve().parents[1]
_BURN = "import time\nend = time.monotonic() + {s}\nwhile time.monotonic() < end:\n    pass\n"
_STEP = re.compile(r"^===== step (.+?) \(block (\d+), line \d+\) =====$", re.MULTILINE)
_TIME = re.compile(r"^----- output \(([\d.]+)s, status (\S+)\) -----$", re.MULTILINE)


def free_ports() -> dict[str, str]:
    """STRANGLER_PORT_<NAME> for each process of the demo's stack, and the admin port, all free now."""
    from strangler.procs import free_port
    from strangler.stack import load_stack, port_env_name

    processes = load_stack(ROOT / "config" / "stack.yaml").config.processes
    env = {port_env_name(name): str(free_port()) for name in processes}
    env["STRANGLER_ADMIN_PORT"] = str(free_port())
    return env


def burners(count: int, seconds: float) -> list[subprocess.Popen]:
    code = _BURN.format(s=seconds)
    return [subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.DEVNULL) for _ in range(count)]


def stop(procs: list[subprocess.Popen]) -> None:
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
    for proc in procs:
        proc.wait(timeout=10)


def run_demo(var_dir: Path, env: dict[str, str], max_seconds: float, extra: list[str]) -> int | str:
    """The demo's exit code; past `max_seconds` it is interrupted (Ctrl-C: it stops its stack itself), and
    killed 180 s later, its stack then stopped by `strangler down`."""
    demo = subprocess.Popen([sys.executable, "-m", "strangler", "demo", "--var-dir", str(var_dir), *extra],
                            cwd=ROOT, env=env, stdin=subprocess.DEVNULL)
    try:
        return demo.wait(timeout=max_seconds)
    except subprocess.TimeoutExpired:
        demo.send_signal(signal.SIGINT)
    try:
        demo.wait(timeout=180)
        return f"interrupted after {max_seconds:.0f}s"
    except subprocess.TimeoutExpired:
        demo.kill()
        demo.wait(timeout=10)
        subprocess.run([sys.executable, "-m", "strangler", "down"], cwd=ROOT, timeout=120, check=False,
                       env={**env, "STRANGLER_VAR_DIR": str(var_dir)})
        return f"killed after {max_seconds + 180:.0f}s"


def step_times(transcript: str) -> list[tuple[str, float, str]]:
    """(step as the demo shows it, seconds, status) per block, from the demo's transcript."""
    heads, times = _STEP.findall(transcript), _TIME.findall(transcript)
    pairs = zip(heads, times, strict=False)  # a killed demo leaves its last step without an output line
    return [(f"{head} [block {block}]", float(sec), status) for (head, block), (sec, status) in pairs]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--burners", type=int, default=2, help="CPU-burning processes beside the demo")
    ap.add_argument("--max-seconds", type=float, default=1800, help="bound of the demo and of the burners")
    ap.add_argument("--var-dir", type=Path, default=None, help="the demo's var dir (default: a temporary one)")
    ap.add_argument("--keep-going", action="store_true", help="the demo's --keep-going: run every step")
    figures.add_json_option(ap)
    args = ap.parse_args()
    var_dir = (args.var_dir or Path(tempfile.mkdtemp(prefix="bench-demo-")) / "var").resolve()
    env = {**os.environ, **free_ports(), "PYTHONUNBUFFERED": "1"}
    for name in ("CATALOG_LEGACY_TZ", "STRANGLER_SQL_CAPTURE", "STRANGLER_VAR_DIR", "STRANGLER_PROJECT"):
        env.pop(name, None)  # the document sets what it needs; a developer's shell must not change it
    load_before = os.getloadavg()
    print(f"demo with {args.burners} CPU burner(s) beside it; var dir {var_dir}; load average before "
          f"{load_before[0]:.2f}; {os.cpu_count()} cores", flush=True)
    burning = burners(args.burners, args.max_seconds + 30)
    started = time.monotonic()
    try:
        code = run_demo(var_dir, env, args.max_seconds, ["--keep-going"] if args.keep_going else [])
    finally:
        wall = time.monotonic() - started
        load_after = os.getloadavg()
        stop(burning)
    transcript_path = var_dir / "transcript.log"
    transcript = transcript_path.read_text(encoding="utf-8", errors="replace") if transcript_path.exists() else ""
    steps = step_times(transcript)
    errors = sorted(set(re.findall(r"candidate error \([^)]*\)[^\n]*", transcript)))
    tracebacks = transcript.count("Traceback (most recent call last)")
    passed = code == 0
    print("\n== bench_demo_busy ==")
    print(f"result: {'PASSED' if passed else 'FAILED'} (exit {code}); wall {wall:.0f}s with {args.burners} burner(s); "
          f"load average before {load_before[0]:.2f}, at the end {load_after[0]:.2f} (1 min)")
    for name, seconds, status in steps:
        print(f"  {seconds:7.1f}s  status {status:>4}  {name}")
    print(f"shadow/parity error groups seen: {len(errors)}" + "".join(f"\n  {line}" for line in errors))
    print(f"tracebacks in the transcript: {tracebacks}; transcript: {transcript_path}")
    figures.write(args.json, "bench_demo_busy", [
        figures.figure(f"demo verdict with {args.burners} CPU burners", "PASSED" if passed else "FAILED", "",
                       "PASSED", "met" if passed else "missed"),
        figures.figure("demo wall time, busy", round(wall), "s"),
        figures.figure("tracebacks in the demo transcript", tracebacks, "", "0", "met" if not tracebacks else "missed"),
    ], load_before=[round(x, 2) for x in load_before], load_after=[round(x, 2) for x in load_after],
        steps=[{"step": n, "seconds": s, "status": st} for n, s, st in steps], error_groups=errors)
    sys.exit(0 if passed else 1)


if __name__ == "__main__":
    main()
