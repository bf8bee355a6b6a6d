"""Locust's CSV stats writer, stopped before its files are closed (imported by load/locust_base.py).

Why: Locust spawns `StatsCSVFileWriter.stats_writer` as a greenlet that rewrites the CSV files once per
second and is never stopped; at shutdown Locust closes the files and exits. Anything that yields to gevent
after that (an atexit handler, a thread join under monkey-patching, a slow exit on a busy machine) lets the
writer wake on closed files: "ValueError: I/O operation on closed file" and a traceback in the run's
output, although the run was fine. Here `close_files` first kills the writer greenlet (it only ever waits in
its sleep, so it never dies mid-row), then writes the files one last time — the final figures, not the last
second's — and closes them.
"""
from __future__ import annotations

import time
from typing import Any

import gevent
from locust.stats import StatsCSVFileWriter

_GREENLET = "_strangler_writer"


def install() -> None:
    """Patch StatsCSVFileWriter once per process (idempotent)."""
    if getattr(StatsCSVFileWriter, "_strangler_guarded", False):
        return
    original_writer, original_close = StatsCSVFileWriter.stats_writer, StatsCSVFileWriter.close_files

    def stats_writer(self: Any) -> None:
        setattr(self, _GREENLET, gevent.getcurrent())
        original_writer(self)

    def close_files(self: Any) -> None:
        writer = getattr(self, _GREENLET, None)
        if writer is not None and writer is not gevent.getcurrent():
            writer.kill(block=True, timeout=5)
        final_write(self)
        original_close(self)

    StatsCSVFileWriter.stats_writer = stats_writer  # type: ignore[method-assign]  # (the patch itself)
    StatsCSVFileWriter.close_files = close_files  # type: ignore[method-assign]
    setattr(StatsCSVFileWriter, "_strangler_guarded", True)  # noqa: B010 - a marker attribute of our own


def final_write(writer: Any) -> None:
    """Rewrite the requests/failures/exceptions files whole and append one last history row."""
    for handle, csv_writer, write in (
            (writer.requests_csv_filehandle, writer.requests_csv_writer, writer.requests_csv),
            (writer.failures_csv_filehandle, writer.failures_csv_writer, writer.failures_csv),
            (writer.exceptions_csv_filehandle, writer.exceptions_csv_writer, writer.exceptions_csv)):
        if handle.closed:
            continue
        handle.seek(0)
        handle.truncate()
        write(csv_writer)
        handle.flush()
    history = writer.stats_history_csv_filehandle
    if not history.closed and hasattr(writer, "_stats_history_data_rows"):
        if history.tell() == 0:  # the writer never ran: no header yet
            writer.stats_history_csv_writer.writerow(writer.stats_history_csv_columns)
        writer._stats_history_data_rows(writer.stats_history_csv_writer, time.time())
        history.flush()
