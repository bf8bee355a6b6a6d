"""One log line per failed request; full tracebacks rate-limited per error type.

Why: repeated bad input once wrote ~43,000 traceback lines to catalog.log. The first traceback of a kind shows
the bug; after that each failure keeps its one line (request id, method, path, cause) and the next traceback
says how many were suppressed. Only the first line of an error's message is logged, and engines are built
with hide_parameters, so neither a request body nor its values reach the log.
"""
from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable

REQUEST_ID_HEADER = "X-Request-ID"
TRACEBACK_INTERVAL_S = 60.0
_SAFE_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")
_CAUSE_LIMIT = 200


def safe_request_id(raw: str | None) -> str:
    """The caller's request id when it looks like one, else '-' (a header must not forge log lines)."""
    return raw if raw is not None and _SAFE_ID.fullmatch(raw) else "-"


def printable(text: str, limit: int = _CAUSE_LIMIT) -> str:
    """Control characters escaped (a decoded '%0A' in a path must not start a fake log line), length capped."""
    return text.encode("unicode_escape").decode("ascii")[:limit]


def cause(exc: BaseException) -> str:
    """'OverflowError: Python int too large…' — the first line only (later lines may quote SQL or input)."""
    inner = getattr(exc, "orig", None) or exc  # a DBAPIError's driver error, without SQLAlchemy's SQL dump
    message = str(inner).strip().splitlines()[0] if str(inner).strip() else ""
    text = f"{type(inner).__name__}: {message}" if message else type(inner).__name__
    return printable(text)


class ErrorLog:
    """Logs unexpected request failures: always one line, a traceback at most once per interval per type."""

    def __init__(self, logger: logging.Logger, *, interval_s: float = TRACEBACK_INTERVAL_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.logger, self.interval_s, self._clock = logger, interval_s, clock
        self._last: dict[str, float] = {}
        self._suppressed: dict[str, int] = {}
        self._lock = threading.Lock()

    def _traceback_due(self, kind: str) -> tuple[bool, int]:
        now = self._clock()
        with self._lock:
            last = self._last.get(kind)
            if last is not None and now - last < self.interval_s:
                self._suppressed[kind] = self._suppressed.get(kind, 0) + 1
                return False, 0
            self._last[kind] = now
            return True, self._suppressed.pop(kind, 0)

    def unexpected(self, exc: BaseException, *, method: str, path: str, request_id: str | None) -> None:
        kind = f"{type(exc).__module__}.{type(exc).__qualname__}"
        due, suppressed = self._traceback_due(kind)
        note = (f" (traceback below; {suppressed} like it suppressed since the last)" if due and suppressed
                else "" if due else f" (traceback suppressed: one per {self.interval_s:g}s per error type)")
        self.logger.error("unhandled error on %s %s request_id=%s: %s%s", method, printable(path),
                          safe_request_id(request_id), cause(exc), note, exc_info=exc if due else None)

    def expected(self, status: int, code: str, exc: BaseException, *, method: str, path: str,
                 request_id: str | None) -> None:
        """A failure we answer on purpose (e.g. 503 DATABASE_BUSY): one warning line, never a traceback."""
        self.logger.warning("%d %s on %s %s request_id=%s: %s", status, code, method, printable(path),
                            safe_request_id(request_id), cause(exc))
