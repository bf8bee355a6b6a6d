"""Progress while long commands run: `up -d` prints one line per process as it becomes healthy, `load` and
`parity run` a live line from Locust's own stats CSV; every run keeps its own Locust files, the newest
linked under the kind's plain name."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from strangler.cli.load import LocustRun, link_latest
from strangler.cli.progress import LiveLine, stats_line
from strangler.procs import free_port
from strangler.runstate import stop_stack

ROOT = Path(__file__).resolve().parents[4]
TINY = ROOT / "tests" / "integration" / "supervisor" / "tiny_server.py"
HEADER = ("Type,Name,Request Count,Failure Count,Median Response Time,Average Response Time,Min Response Time,"
          "Max Response Time,Average Content Size,Requests/s,Failures/s,50%,66%,75%,80%,90%,95%,98%,99%,99.9%,"
          "99.99%,100%\n")


def _stats(path: Path, requests: int, failures: int, p95: int) -> None:
    row = f",Aggregated,{requests},{failures},5,6,1,90,120,40.0,0.0,5,6,7,8,9,{p95},20,30,40,50,90\n"
    path.write_text(HEADER + f"GET,/api/products,{requests},{failures},5,6,1,90,120,40,0,5,6,7,8,9,{p95},20,"
                    "30,40,50,90\n" + row, encoding="utf-8")


def test_stats_line_reads_the_aggregated_row(tmp_path: Path) -> None:
    stats = tmp_path / "run_stats.csv"
    assert stats_line(stats, 3) is None  # before Locust's first write
    _stats(stats, 1234, 12, 17)
    assert stats_line(stats, 75) == "[1:15] 1,234 requests, 0.97% failed, p95 17 ms"


def test_live_line_prints_every_interval_until_the_run_ends(tmp_path: Path) -> None:
    stats = tmp_path / "run_stats.csv"
    lines: list[str] = []
    with LiveLine(stats, every=0.05, emit=lines.append) as live:
        deadline = time.monotonic() + 10
        _stats(stats, 10, 0, 4)
        while len(lines) < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
        _stats(stats, 20, 1, 8)
        while not any("20 requests" in line for line in lines) and time.monotonic() < deadline:
            time.sleep(0.02)
    count = live.printed
    assert any("10 requests, 0.00% failed, p95 4 ms" in line for line in lines)
    assert any("20 requests, 5.00% failed, p95 8 ms" in line for line in lines)
    time.sleep(0.2)
    assert live.printed == count  # stopped with the run


def test_each_run_keeps_its_files_and_the_newest_is_linked(tmp_path: Path) -> None:
    runs = []
    for stamp in ("20261206T100000.000Z", "20261206T110000.000Z"):
        prefix = tmp_path / f"load-{stamp}"
        run = LocustRun(Path("locustfile.py"), "http://127.0.0.1:1", 1, "1s", None, prefix,
                        tmp_path / f"load-{stamp}.html", tmp_path / "mix.yaml", "read", 10)
        Path(f"{prefix}_stats.csv").write_text(stamp, encoding="utf-8")
        run.html.write_text(stamp, encoding="utf-8")
        link_latest(run, "load")
        runs.append(stamp)
    assert (tmp_path / "load_stats.csv").read_text() == runs[-1]
    assert (tmp_path / "load.html").read_text() == runs[-1]
    assert (tmp_path / "load_stats.csv").is_symlink()
    assert (tmp_path / f"load-{runs[0]}_stats.csv").read_text() == runs[0]  # the older run is still there


@pytest.mark.integration
def test_up_detached_prints_each_process_as_it_becomes_healthy_then_next(tmp_path: Path) -> None:
    ports = {"a": free_port(), "b": free_port()}
    stack = tmp_path / "config" / "stack.yaml"
    stack.parent.mkdir()
    stack.write_text(json.dumps({"processes": {
        name: {"command": ["{python}", str(TINY), name, "{port}"], "port": port, "health": "/healthz",
               "ready_timeout": 20} for name, port in ports.items()}}), encoding="utf-8")
    env = {**os.environ, "STRANGLER_VAR_DIR": str(tmp_path / "var"), "STRANGLER_STACK_FILE": str(stack),
           "COLUMNS": "120", "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    try:
        up = subprocess.run([sys.executable, "-m", "strangler", "up", "-d"], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=120)
        assert up.returncode == 0, up.stderr
        progress = [line.strip() for line in up.stderr.splitlines() if "healthy at" in line]
        assert [line.split()[0] for line in progress] == ["a", "b"], up.stderr
        assert f"healthy at http://127.0.0.1:{ports['a']} after " in progress[0] and progress[0].endswith(" s")
        assert up.stdout.rstrip().splitlines()[-1] == "Next: strangler status"  # no admin API in this stack
    finally:
        stop_stack(tmp_path / "var", timeout=10)


def test_the_dashboard_hint_names_where_the_token_is_never_the_token(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    from strangler.cli.stack import dashboard_hint
    from strangler.stack import ResolvedProcess, StackPlan

    facade = ResolvedProcess(name="facade", argv=["mitmdump", "--set", "strangler_admin_port=8081"],
                             host="127.0.0.1", port=8080, health=None, ready_timeout=1, env={}, setup=[],
                             setup_timeout=1, cwd=tmp_path, restart="no", max_restarts=0, restart_backoff=1,
                             log_path=tmp_path / "f.log")
    plan = StackPlan(stack_file=tmp_path / "s.yaml", root=tmp_path, var_dir=tmp_path / "var", processes=[facade])
    monkeypatch.delenv("STRANGLER_ADMIN_TOKEN", raising=False)
    assert dashboard_hint(plan) == ("open the dashboard http://127.0.0.1:8081/ui (admin token: "
                                    f"STRANGLER_ADMIN_TOKEN in {tmp_path / 'var' / 'secrets.env'})")
    monkeypatch.setenv("STRANGLER_ADMIN_TOKEN", "s3cr3t-token-value-long")
    hint = dashboard_hint(plan)
    assert "s3cr3t" not in hint and "in your environment" in hint


@pytest.mark.integration
def test_load_prints_a_live_line_and_links_its_files_as_the_newest(tmp_path: Path) -> None:
    port = free_port()
    server = subprocess.Popen([sys.executable, str(TINY), "t", str(port)], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:  # bounded wait for the tiny server to listen
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    break
            except OSError:
                time.sleep(0.1)
        mix = tmp_path / "mix.yaml"
        mix.write_text("mixes:\n  read:\n    - {name: health, path: /healthz, weight: 1, expect: [200]}\n")
        env = {**os.environ, "STRANGLER_VAR_DIR": str(tmp_path / "var"), "COLUMNS": "120",
               "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
        done = subprocess.run([sys.executable, "-m", "strangler", "load", "--host", f"http://127.0.0.1:{port}",
                               "--mix", str(mix), "--users", "2", "--run-time", "9s"], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=120)
    finally:
        server.terminate()
        server.wait(timeout=10)
    assert done.returncode == 0, done.stderr
    live = [line for line in done.stderr.splitlines() if line.startswith("[0:")]
    assert live and all(" requests, " in line and "% failed, p95 " in line for line in live), done.stderr
    assert "result: " in done.stderr and "; exit code 0" in done.stderr
    out = tmp_path / "var" / "locust"
    runs = sorted(p.name for p in out.glob("load-*_stats.csv"))
    assert len(runs) == 1 and (out / "load_stats.csv").resolve().name == runs[0]
    assert (out / "load.html").is_symlink() and (out / "load.html").resolve().exists()
