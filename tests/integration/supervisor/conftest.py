"""Fixtures for supervisor tests: a stack file of tiny servers in tmp_path and a `strangler` CLI runner.

The CLI always runs as a real subprocess (`python -m strangler`), so the detached supervisor is a real
background process and Ctrl-C/SIGTERM paths are the real ones.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from strangler.procs import free_port
from strangler.runstate import stop_stack

TINY = Path(__file__).with_name("tiny_server.py")


def _tiny(name: str, *extra: str, **options: Any) -> dict[str, Any]:
    """A stack-file process entry running tiny_server.py on a free port."""
    entry = {"command": ["{python}", str(TINY), name, "{port}", *extra], "port": free_port(),
             "ready_timeout": 10}
    entry.update(options)
    return entry


@pytest.fixture
def tiny() -> Callable[..., dict[str, Any]]:
    return _tiny


class Stack:
    def __init__(self, root: Path, var_dir: Path) -> None:
        self.root, self.var_dir = root, var_dir
        self.file = root / "config" / "stack.yaml"

    def write(self, processes: dict[str, dict[str, Any]]) -> Path:
        self.file.parent.mkdir(parents=True, exist_ok=True)
        self.file.write_text(json.dumps({"processes": processes}, indent=2))  # JSON is valid YAML
        return self.file

    def cli(self, *args: str, timeout: float = 60, env: dict[str, str] | None = None
            ) -> subprocess.CompletedProcess[str]:
        full_env = {**os.environ, "STRANGLER_VAR_DIR": str(self.var_dir),
                    "STRANGLER_STACK_FILE": str(self.file), "COLUMNS": "200", **(env or {})}
        return subprocess.run([sys.executable, "-m", "strangler", *args], cwd=self.root, env=full_env,
                              capture_output=True, text=True, timeout=timeout)

    def state(self) -> dict[str, Any]:
        return json.loads((self.var_dir / "run" / "stack.json").read_text())


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    s = Stack(tmp_path, tmp_path / "var")
    yield s
    stop_stack(s.var_dir, timeout=10)  # never leave a process behind, whatever the test did


@pytest.fixture
def wait_for() -> Callable[..., Any]:
    import time

    def _wait(predicate: Callable[[], Any], timeout: float = 20.0, what: str = "condition") -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = predicate()
            if value:
                return value
            time.sleep(0.1)
        raise AssertionError(f"timed out waiting for {what}")

    return _wait
