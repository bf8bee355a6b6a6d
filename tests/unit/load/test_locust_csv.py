"""A real headless Locust run through the kit's locustfile ends without a traceback, its CSV files final.

Locust's CSV writer greenlet used to outlive its files: anything that yields to gevent after Locust closes
them (here, deterministically, an atexit handler that sleeps 1.5 s — on a busy machine, a slow exit did it)
woke it on closed files ("ValueError: I/O operation on closed file"). load/locust_csv.py stops it first."""
from __future__ import annotations

import csv
import http.server
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]

_LOCUSTFILE = '''
import atexit
import gevent
from load.locustfile_load import LoadUser  # noqa: F401 - the kit's user, with its CSV guard
atexit.register(gevent.sleep, 1.5)   # yields to the hub after Locust closed its CSV files
'''
_MIX = "mixes:\n  read:\n    - {name: root, path: /, weight: 1, expect: [200]}\n"


class _Ok(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server():
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Ok)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_short_locust_run_has_no_traceback_and_final_csv(tmp_path: Path, server: str) -> None:
    (tmp_path / "locustfile.py").write_text(_LOCUSTFILE, encoding="utf-8")
    (tmp_path / "mix.yaml").write_text(_MIX, encoding="utf-8")
    env = {**os.environ, "STRANGLER_LOAD_MIX": str(tmp_path / "mix.yaml"), "STRANGLER_LOAD_WAIT": "0.05",
           "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "locust", "-f", str(tmp_path / "locustfile.py"), "--headless", "--host", server,
         "--users", "2", "--spawn-rate", "2", "--run-time", "1s", "--stop-timeout", "2", "--only-summary",
         "--csv", str(tmp_path / "run")],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    assert "Traceback" not in output and "closed file" not in output, output
    rows = list(csv.DictReader((tmp_path / "run_stats.csv").open(encoding="utf-8")))
    total = next(r for r in rows if r["Name"] == "Aggregated")
    assert int(total["Request Count"]) > 0
    # the final write: the last history row holds the run's whole count
    history = list(csv.DictReader((tmp_path / "run_stats_history.csv").open(encoding="utf-8")))
    assert history and history[-1]["Total Request Count"] == total["Request Count"]
