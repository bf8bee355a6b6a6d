"""Per-request metrics and the JSON-lines access log.

The access log is a buffered file written on the event loop (one `write` of one line per request, no
syscall per request) and flushed at most a second after a line was written and at shutdown, so it costs
microseconds per request. The flush is a one-shot timer armed by the first line after a flush, so an idle
façade never wakes for it.
"""
from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import TextIO

from mitmproxy import ctx, http

from proxy.addons.errors import ANSWERED_META
from proxy.addons.routing import META
from proxy.addons.state import FacadeState

FLUSH_SECONDS = 1.0
_ERROR_STATUS = {"timeout": 504, "connect": 502, "protocol": 502, "stale": 502}  # else 499: the client left


class Telemetry:
    def __init__(self, state: FacadeState):
        self.state = state
        self._log: TextIO | None = None
        self._log_path: str = ""
        self._loop: asyncio.AbstractEventLoop | None = None  # set by `running`: the flush timer needs it
        self._flush_timer: asyncio.TimerHandle | None = None  # armed while lines wait in the buffer
        self.no_answer: dict[tuple[str, str, int], int] = {}  # (feature, upstream, status): read by proxy/history

    def configure(self, updated: set[str]) -> None:
        if "strangler_access_log" in updated:
            path = ctx.options.strangler_access_log
            if path != self._log_path:
                self._close()
                if path:
                    Path(path).parent.mkdir(parents=True, exist_ok=True)
                    self._log = open(path, "a", buffering=1 << 16, encoding="utf-8")  # noqa: SIM115
                self._log_path = path

    def running(self) -> None:
        self._loop = asyncio.get_running_loop()

    async def done(self) -> None:
        if self._flush_timer is not None:
            self._flush_timer.cancel()
        self._flush_timer, self._loop = None, None
        self._close()

    def response(self, flow: http.HTTPFlow) -> None:
        self._record(flow, flow.response.status_code if flow.response else 0)

    def error(self, flow: http.HTTPFlow) -> None:
        decision = flow.metadata.get(META)
        if decision is None:
            return
        status = flow.metadata.get(ANSWERED_META) or _ERROR_STATUS.get(decision.error_kind or "", 499)
        key = (decision.feature, decision.upstream, status)
        self.no_answer[key] = self.no_answer.get(key, 0) + 1
        self._record(flow, status)

    def _record(self, flow: http.HTTPFlow, status: int) -> None:
        decision = flow.metadata.get(META)
        if decision is None:
            return
        seconds = time.perf_counter() - decision.started
        self.state.metrics.observe(decision.feature, decision.upstream, decision.state, status, seconds)
        if self._log is not None:
            req = flow.request
            self._log.write(json.dumps({
                "ts": round(time.time(), 3), "request_id": decision.request_id, "method": req.method,
                "path": req.path, "feature": decision.feature, "state": decision.state,
                "upstream": decision.upstream, "status": status, "duration_ms": round(seconds * 1000, 2),
                "client": flow.client_conn.peername[0] if flow.client_conn.peername else None,
                **({"fallback": decision.fallback} if decision.fallback else {}),
                **({"error": decision.error_kind} if decision.error_kind else {}),
            }) + "\n")
            if self._flush_timer is None and self._loop is not None:
                self._flush_timer = self._loop.call_later(FLUSH_SECONDS, self._flush)

    def _flush(self) -> None:
        self._flush_timer = None
        if self._log is not None:
            self._log.flush()

    def _close(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None
