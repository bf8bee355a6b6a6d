"""strangler/runstate: stack.json keeps the same status text with StrEnum states, written atomically."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from strangler.runstate import STATE_FILE, ProcessStatus, StackStatus, read_state, stop_stack, write_state


def test_state_round_trips_as_plain_text(tmp_path: Path) -> None:
    run = tmp_path / "run"
    write_state(run, {"status": StackStatus.RUNNING, "processes": {"a": {"status": ProcessStatus.HEALTHY}}})
    raw = json.loads((run / STATE_FILE).read_text())
    assert raw == {"status": "running", "processes": {"a": {"status": "healthy"}}}
    assert read_state(run) == raw and StackStatus(raw["status"]) is StackStatus.RUNNING
    assert [p.name for p in run.iterdir()] == [STATE_FILE]  # no temporary file left behind


def test_down_stops_a_leftover_group_and_marks_everything_stopped(tmp_path: Path) -> None:
    leftover = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"], start_new_session=True)
    try:
        write_state(tmp_path / "run", {"status": StackStatus.RUNNING,
                                       "processes": {"svc": {"pid": leftover.pid, "status": ProcessStatus.HEALTHY}}})
        done = stop_stack(tmp_path, timeout=5)
        assert done == [f"stopped leftover 'svc' (pid {leftover.pid})"]
        assert leftover.wait(timeout=15) is not None
        state = read_state(tmp_path / "run")
        assert state == {"status": "stopped", "processes": {"svc": {"pid": leftover.pid, "status": "stopped"}}}
    finally:
        if leftover.poll() is None:
            leftover.kill()
            leftover.wait(timeout=15)
