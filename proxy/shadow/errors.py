"""Why a shadow comparison is an error, said once: its cause, which upstream, how long it took.

An error comparison (the candidate gave no answer, or a 5xx legacy did not give) used to be stored as a bare
error, its cause logged nowhere: on a busy machine nobody could tell a timeout from a broken service. Here
each one gets
- a cause label for the parity store and `strangler parity report` — kind and upstream, e.g.
  "timeout from catalog: ReadTimeout", "5xx from orders: 200 → 503" (stable text: it is a grouping key;
  the elapsed time is kept per sample and shown per group);
- one log line (the worker's stderr is the façade's log): feature, method, route template, kind, upstream,
  elapsed ms and the client library's message — never a body, never a query string (values may be secret).
Lines are bounded per window, so a candidate that fails every request cannot flood the log; how many were
not written is said when the window ends.
"""
from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass, field

from proxy.parity.causes import Cause, Classified, error_label

log = logging.getLogger("strangler.shadow")
_QUERY = re.compile(r"\?[^\s'\")]*")


@dataclass(frozen=True, slots=True)
class ShadowError:
    """One error comparison's cause."""

    kind: str          # timeout | connect | protocol | 5xx (proxy.parity.causes.ERROR_KINDS)
    upstream: str      # the candidate's upstream name
    elapsed_ms: float  # until the answer or the failure
    detail: str        # exception class ("ReadTimeout") or "200 → 503"
    message: str       # the client library's message, or "answered 503, reference 200"

    @classmethod
    def no_answer(cls, kind: str, upstream: str, elapsed_ms: float, message: str | None) -> ShadowError:
        text = _QUERY.sub("?…", (message or "no answer").replace("\n", " "))  # a URL's query may carry secrets
        return cls(kind, upstream, elapsed_ms, text.split(":", 1)[0].strip()[:40], text[:200])

    @classmethod
    def server_error(cls, upstream: str, elapsed_ms: float, reference: int | None, status: int) -> ShadowError:
        return cls("5xx", upstream, elapsed_ms, f"{reference} → {status}",
                   f"answered {status}, reference {reference}")

    def classified(self) -> Classified:
        return Classified(Cause.ERROR, error_label(self.kind, self.upstream, self.detail))


def kind_of(exc: BaseException) -> str:
    """timeout | connect | protocol for a client library's exception (httpx or requests, by class name: the
    Locust parity user meets requests' exceptions, the engine httpx's)."""
    names, text = {c.__name__ for c in type(exc).__mro__}, repr(exc)
    if names & {"TimeoutException", "Timeout", "TimeoutError"}:
        return "timeout"
    if names & {"ConnectError", "ConnectionRefusedError"} or "NewConnectionError" in text \
            or "Connection refused" in text:
        return "connect"
    return "protocol"


@dataclass
class ErrorLog:
    """At most `burst` lines per `window_s`; the rest are counted and summarised in one line."""

    burst: int = 20
    window_s: float = 10.0
    _start: float = 0.0
    _written: int = 0
    _skipped: dict[str, int] = field(default_factory=dict)

    def record(self, feature: str, method: str, route: str, error: ShadowError) -> None:
        now = time.monotonic()
        if now - self._start >= self.window_s:
            self._flush()
            self._start, self._written = now, 0
        if self._written >= self.burst:
            key = f"{error.kind} from {error.upstream}"
            self._skipped[key] = self._skipped.get(key, 0) + 1
            return
        self._written += 1
        log.warning("shadow error: feature %s %s %s: %s from %s after %.0f ms (%s)", feature, method, route,
                    error.kind, error.upstream, error.elapsed_ms, error.message)

    def _flush(self) -> None:
        if self._skipped:
            log.warning("shadow error: %s more not logged one by one in the last %.0f s",
                        ", ".join(f"{n} {key}" for key, n in sorted(self._skipped.items())), self.window_s)
            self._skipped.clear()

    def close(self) -> None:
        self._flush()
