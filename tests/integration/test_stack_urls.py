"""Commands find stack processes by name: `strangler url NAME`, and `--host NAME` in load runs.

A real stack (one tiny server under the real supervisor) on a free port, so the name must resolve to the port
chosen at `up` time, not to a default."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from strangler.procs import free_port

ROOT = Path(__file__).resolve().parents[2]
TINY = ROOT / "tests" / "integration" / "supervisor" / "tiny_server.py"


def strangler(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "strangler", *args], capture_output=True, text=True, timeout=90,
                          cwd=ROOT, env=env)


@pytest.mark.integration
def test_process_names_resolve_to_the_running_stack(tmp_path: Path) -> None:
    port = free_port()
    stack = tmp_path / "stack.yaml"
    stack.write_text(f'processes:\n  web:\n    command: ["{{python}}", "{TINY}", "web", "{{port}}"]\n'
                     f"    port: {port}\n    health: /healthz\n")
    env = {"STRANGLER_VAR_DIR": str(tmp_path / "var"), "PATH": "/usr/bin:/bin", "STRANGLER_STACK_FILE": str(stack)}
    assert strangler("url", "web", env=env).returncode == 1  # nothing runs yet: a clear error
    up = strangler("up", "-d", env=env)
    assert up.returncode == 0, up.stdout + up.stderr
    try:
        found = strangler("url", "web", env=env)
        assert found.returncode == 0 and found.stdout.strip() == f"http://127.0.0.1:{port}"
        unknown = strangler("load", "--host", "nope", "--run-time", "1s", env=env)
        assert unknown.returncode != 0 and "known: web" in unknown.stderr
    finally:
        strangler("down", env=env)
