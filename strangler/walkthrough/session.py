"""One persistent bash process for the whole document, so `export` in one block carries to the next.

Each block is written to a file and `source`d with its output captured to a file; an ERR trap remembers the
first failing command's status, so a block fails if any of its commands fails. A block that outlives its
timeout kills the whole session (process group) — the runner then tears the stack down."""
from __future__ import annotations

import contextlib
import os
import select
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

_SENTINEL = "__WALKTHROUGH_BLOCK_DONE__"


@dataclass
class BlockOutcome:
    status: int | None   # None = timed out (the session is dead)
    output: str
    seconds: float


class BashSession:
    def __init__(self, env: dict[str, str], cwd: Path) -> None:
        self._dir = Path(tempfile.mkdtemp(prefix="walkthrough-"))
        self._proc = subprocess.Popen(
            ["bash", "--noprofile", "--norc"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, cwd=cwd, env=env, text=True, bufsize=1, start_new_session=True)
        self._count = 0
        self.cwd = cwd   # where the last finished block left the shell (a document may `cd` into its project)

    @property
    def alive(self) -> bool:
        return self._proc.poll() is None

    def run(self, code: str, timeout_s: float, *, on_tick: Callable[[float, str], None] | None = None,
            tick_s: float = 5.0) -> BlockOutcome:
        """Run one block; `on_tick(elapsed s, last output line)` every `tick_s` while it runs."""
        self._count += 1
        script = self._dir / f"block{self._count}.sh"
        output = self._dir / f"block{self._count}.out"
        script.write_text(code, encoding="utf-8")
        started = time.monotonic()
        assert self._proc.stdin is not None and self._proc.stdout is not None
        self._proc.stdin.write(
            f"__wt_rc=0; trap '__wt_rc=${{__wt_rc/#0/$?}}' ERR; source {script} > {output} 2>&1 < /dev/null; "
            f"trap - ERR; echo {_SENTINEL} $__wt_rc \"$PWD\"\n")
        self._proc.stdin.flush()
        deadline = started + timeout_s
        next_tick = started + tick_s
        status: int | None = None
        while True:
            now = time.monotonic()
            left = deadline - now
            if left <= 0:
                self.kill()
                break
            wait = min(left, next_tick - now) if on_tick else left
            if not select.select([self._proc.stdout], [], [], max(wait, 0))[0]:
                if on_tick and time.monotonic() >= next_tick:
                    next_tick += tick_s
                    on_tick(time.monotonic() - started, last_line(output))
                continue
            line = self._proc.stdout.readline()
            if not line:
                break  # bash exited (e.g. the block ran `exit`)
            if line.startswith(_SENTINEL):
                _, rc, cwd = line.rstrip("\n").split(" ", 2)
                status, self.cwd = int(rc), Path(cwd)
                break
        text = output.read_text(encoding="utf-8", errors="replace") if output.exists() else ""
        return BlockOutcome(status, text, time.monotonic() - started)

    def kill(self) -> None:
        if self.alive:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self._proc.pid, signal.SIGKILL)
            self._proc.wait(timeout=10)

    def close(self) -> None:
        if self.alive:
            assert self._proc.stdin is not None
            try:
                self._proc.stdin.write("exit 0\n")
                self._proc.stdin.flush()
                self._proc.wait(timeout=5)
            except (OSError, subprocess.TimeoutExpired):
                pass
        self.kill()
        for path in self._dir.glob("*"):
            path.unlink(missing_ok=True)
        self._dir.rmdir()


def last_line(path: Path, tail: int = 4096) -> str:
    """The last non-empty line a running block wrote so far ("" when none): what it is doing now."""
    try:
        with path.open("rb") as handle:
            handle.seek(0, os.SEEK_END)
            handle.seek(max(0, handle.tell() - tail))
            lines = handle.read().decode("utf-8", errors="replace").replace("\r", "\n").splitlines()
    except OSError:
        return ""
    return next((line.strip() for line in reversed(lines) if line.strip()), "")
