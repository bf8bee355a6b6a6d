"""`strangler load` / `parity run` check the mix and the targets BEFORE Locust starts: a bad mix is one
FILE:LINE line, a dead --host one line naming the address (exit 2, no run); headers with ${ENV} reach a real
upstream."""
from __future__ import annotations

import os
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from strangler.procs import free_port

pytestmark = pytest.mark.integration
STRANGLER = Path(sys.executable).with_name("strangler")
MIX = """\
mixes:
  read:
    - name: a plant
      path: /plants/{id}
      params: {id: {range: [1, 3]}}
      headers: {Authorization: "Bearer ${MIX_TOKEN}"}
      expect: [200]
"""


def cli(tmp: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    environ = {k: v for k, v in os.environ.items() if k != "MIX_TOKEN"}
    environ.update(STRANGLER_VAR_DIR=str(tmp / "var"), **env)
    (tmp / "strangler.yaml").write_text("project: preflight\n")
    return subprocess.run([str(STRANGLER), *args], cwd=tmp, env=environ, capture_output=True, text=True,
                          timeout=120)


@pytest.fixture
def upstream():
    """A real HTTP server on loopback that records the Authorization header of every request."""
    seen: list[str | None] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # http.server's name
            seen.append(self.headers.get("Authorization"))
            body = b'{"ok": true}'
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", seen
    finally:
        server.shutdown()
        server.server_close()


def _mix(tmp: Path, text: str = MIX) -> Path:
    path = tmp / "mix.yaml"
    path.write_text(text)
    return path


def _no_locust(done: subprocess.CompletedProcess, tmp: Path) -> None:
    assert done.returncode == 2, done.stderr
    assert "locust:" not in done.stderr and not list((tmp / "var").glob("locust/*.csv"))
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr


def test_headers_with_env_reach_the_upstream(tmp_path, upstream):
    url, seen = upstream
    done = cli(tmp_path, "load", "--host", url, "--mix", str(_mix(tmp_path)), "--users", "1", "--run-time", "20s",
               "--max-requests", "5", MIX_TOKEN="t0ken-123")
    assert done.returncode == 0, done.stderr[-2000:]
    assert len(seen) >= 2  # the pre-flight request (no header) and the run's requests
    assert seen[0] is None and set(seen[1:]) == {"Bearer t0ken-123"}
    assert "t0ken-123" not in done.stderr + done.stdout


def test_an_unset_header_variable_is_named_before_locust_starts(tmp_path, upstream):
    url, seen = upstream
    done = cli(tmp_path, "load", "--host", url, "--mix", str(_mix(tmp_path)), "--run-time", "5s")
    _no_locust(done, tmp_path)
    assert f"{tmp_path / 'mix.yaml'}:6:" in done.stderr and "MIX_TOKEN" in done.stderr
    assert seen == []


def test_a_bad_mix_is_file_and_line_and_no_run(tmp_path, upstream):
    url, seen = upstream
    mix = _mix(tmp_path, "mixes:\n  read:\n    - path: /plants\n      weight: -1\n")
    done = cli(tmp_path, "load", "--host", url, "--mix", str(mix), "--run-time", "5s")
    _no_locust(done, tmp_path)
    assert f"{mix}:4:" in " ".join(done.stderr.split()) and "weight" in done.stderr
    parity = cli(tmp_path, "parity", "run", "--reference", url, "--candidate", url, "--mix", str(mix),
                 "--run-time", "5s", "--store", str(tmp_path / "p.db"))
    _no_locust(parity, tmp_path)
    assert f"{mix}:4:" in " ".join(parity.stderr.split())
    assert seen == []


def test_a_dead_host_fails_at_once_naming_the_address(tmp_path, upstream):
    url, _ = upstream
    dead = f"http://127.0.0.1:{free_port()}"
    done = cli(tmp_path, "load", "--host", dead, "--mix", str(_mix(tmp_path)), "--run-time", "30s", MIX_TOKEN="x")
    _no_locust(done, tmp_path)
    text = " ".join(done.stderr.split())
    assert f"--host {dead}: nothing answers at 127.0.0.1:{dead.rsplit(':', 1)[1]} (connection refused)" in text
    parity = cli(tmp_path, "parity", "run", "--reference", dead, "--candidate", url, "--mix", str(_mix(tmp_path)),
                 "--run-time", "30s", "--store", str(tmp_path / "p.db"), MIX_TOKEN="x")
    _no_locust(parity, tmp_path)
    assert f"--reference {dead}: nothing answers" in " ".join(parity.stderr.split())
