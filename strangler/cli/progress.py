"""Live lines while a long command runs, so the operator never stares at silence.

`LiveLine` reads the Locust run's own `<prefix>_stats.csv` (Locust rewrites it every second) every few seconds
and prints one line on stderr — requests, failure %, p95 — until the run ends. It reads files only: Locust
runs in its own process (gevent), and its stdout stays its own.
"""
from __future__ import annotations

import csv
import threading
import time
from collections.abc import Callable
from pathlib import Path

from strangler.cli.output import note

EVERY_S = 5.0


def stats_line(stats_csv: Path, elapsed_s: float) -> str | None:
    """"[0:15] 1,234 requests, 0.00% failed, p95 12 ms" from the Aggregated row; None before the first write."""
    try:
        with stats_csv.open(encoding="utf-8", newline="") as fh:
            total = next((row for row in csv.DictReader(fh) if row.get("Name") == "Aggregated"), None)
    except (OSError, csv.Error, UnicodeDecodeError):
        return None
    if not total:
        return None
    try:
        requests, failures = int(total["Request Count"]), int(total["Failure Count"])
    except (KeyError, ValueError):
        return None
    p95 = total.get("95%") or "N/A"
    failed = failures / requests * 100 if requests else 0.0
    minutes, seconds = divmod(int(elapsed_s), 60)
    return (f"[{minutes}:{seconds:02d}] {requests:,} requests, {failed:.2f}% failed, "
            f"p95 {p95 if p95 == 'N/A' else f'{p95} ms'}")


class LiveLine:
    """A background thread printing `stats_line` every `every` seconds until `stop()` (the run ended)."""

    def __init__(self, stats_csv: Path, *, every: float = EVERY_S, emit: Callable[[str], None] = note) -> None:
        self.stats_csv, self.every, self.emit = stats_csv, every, emit
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="live-line", daemon=True)
        self._began = time.monotonic()
        self.printed = 0

    def __enter__(self) -> LiveLine:
        self._began = time.monotonic()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=self.every + 1)

    def _run(self) -> None:
        while not self._stop.wait(self.every):  # ends with the run: stop() sets the event
            line = stats_line(self.stats_csv, time.monotonic() - self._began)
            if line:
                self.emit(line)
                self.printed += 1
