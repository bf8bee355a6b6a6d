"""One log line per failed request; full tracebacks at most once per minute per error type.

Why: repeated bad input must not fill the disk with identical tracebacks. Only the first line of an error's
message is logged and the engine hides SQL parameters, so no request body or value reaches the log. (The
services keep their own copy in new_services/common/errorlog.py: the monolith imports nothing of theirs.)
"""
from __future__ import annotations

import logging
import re
import threading
import time

TRACEBACK_INTERVAL_S = 60.0
_SAFE_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")


def _printable(text: str, limit: int = 200) -> str:
    return text.encode("unicode_escape").decode("ascii")[:limit]


def where(method: str, path: str, request_id: str | None) -> str:
    """'GET /api/x request_id=abc' — the id only when it looks like one, the path with controls escaped."""
    rid = request_id if request_id is not None and _SAFE_ID.fullmatch(request_id) else "-"
    return f"{method} {_printable(path)} request_id={rid}"


def describe(exc: BaseException) -> str:
    """'OverflowError: …' from the first line of the (driver's) message."""
    inner = getattr(exc, "orig", None) or exc
    lines = str(inner).strip().splitlines()
    return _printable(f"{type(inner).__name__}: {lines[0]}" if lines else type(inner).__name__)


class TracebackBudget:
    """Logs each failure as one line; attaches the traceback only when its type had none for `interval_s`."""

    def __init__(self, logger: logging.Logger, interval_s: float = TRACEBACK_INTERVAL_S) -> None:
        self.logger, self.interval_s = logger, interval_s
        self._last: dict[type, float] = {}
        self._suppressed: dict[type, int] = {}
        self._lock = threading.Lock()

    def log(self, exc: BaseException, method: str, path: str, request_id: str | None) -> None:
        kind, now = type(exc), time.monotonic()
        with self._lock:
            due = kind not in self._last or now - self._last[kind] >= self.interval_s
            if due:
                self._last[kind], suppressed = now, self._suppressed.pop(kind, 0)
            else:
                self._suppressed[kind], suppressed = self._suppressed.get(kind, 0) + 1, 0
        note = (f" (traceback below; {suppressed} like it suppressed since the last)" if due and suppressed
                else "" if due else f" (traceback suppressed: one per {self.interval_s:g}s per error type)")
        self.logger.error("unhandled error on %s: %s%s", where(method, path, request_id), describe(exc), note,
                          exc_info=exc if due else None)
