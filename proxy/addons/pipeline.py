"""One mitmproxy addon that runs the façade's concerns in order.

mitmproxy dispatches every hook to every addon through its own bookkeeping (hook dataclass, safe-call context,
lookup per addon) — about as costly per call as our hooks themselves. With eight concerns and ~11 hook calls per
request that overhead alone cost ~10 % of throughput. The pipeline registers once and calls each concern's hook
directly, in the order given. Each concern stays its own class and module (and its unit tests drive it directly
with taddons); a concern that raises is logged and the others still run, as mitmproxy itself would do.
"""
from __future__ import annotations

import functools
import inspect
import logging
from collections.abc import Callable, Iterator
from typing import Any

log = logging.getLogger(__name__)

FLOW_HOOKS = ("http_connect", "requestheaders", "request", "responseheaders", "response", "error",
              "server_connect")
# flow.metadata: set when a part paused the flow in `request` (flow.intercept(), e.g. an async identity
# lookup); that part calls it when done: the parts after it run, then the flow resumes
RESUME_META = "strangler_pipeline_resume"


def _to_every_part(hook: str) -> Callable[[Pipeline, Any], None]:
    """The Pipeline method for a per-flow hook: every part's handler, in order (`request` has its own)."""
    def forward(self: Pipeline, data: Any) -> None:
        self._each(hook, data)
    forward.__name__ = forward.__qualname__ = hook
    return forward


class Pipeline:
    def __init__(self, *parts: Any):
        self.parts = parts
        self._handlers: dict[str, tuple[Callable[..., Any], ...]] = {
            hook: tuple(getattr(p, hook) for p in parts if callable(getattr(p, hook, None))) for hook in FLOW_HOOKS}
        for hook, handlers in self._handlers.items():
            if any(inspect.iscoroutinefunction(h) for h in handlers):
                raise TypeError(f"per-flow hook {hook} must be synchronous in a Pipeline part (start a task)")

    def _each(self, hook: str, *args: Any) -> None:
        for handler in self._handlers[hook]:
            try:
                handler(*args)
            except Exception:
                log.exception("façade addon %s.%s failed", type(getattr(handler, "__self__", handler)).__name__, hook)

    # lifecycle: every part, in order (async parts awaited)
    def _parts_with(self, hook: str) -> Iterator[Callable[..., Any]]:
        return (getattr(part, hook) for part in self.parts if hasattr(part, hook))

    def load(self, loader: Any) -> None:
        for method in self._parts_with("load"):
            method(loader)

    def configure(self, updated: set[str]) -> None:
        for method in self._parts_with("configure"):
            method(updated)

    async def running(self) -> None:
        await self._lifecycle("running")

    async def done(self) -> None:
        await self._lifecycle("done")

    async def _lifecycle(self, hook: str) -> None:
        for method in self._parts_with(hook):
            result = method()
            if inspect.isawaitable(result):
                await result

    # per-flow hooks
    http_connect = _to_every_part("http_connect")
    requestheaders = _to_every_part("requestheaders")
    responseheaders = _to_every_part("responseheaders")
    response = _to_every_part("response")
    error = _to_every_part("error")
    server_connect = _to_every_part("server_connect")

    def request(self, flow: Any) -> None:
        self._request_from(flow, 0)

    def _request_from(self, flow: Any, start: int) -> None:
        handlers = self._handlers["request"]
        for i in range(start, len(handlers)):
            try:
                handlers[i](flow)
            except Exception:
                log.exception("façade addon %s.request failed",
                              type(getattr(handlers[i], "__self__", handlers[i])).__name__)
            if flow.intercepted:  # paused for an async lookup: the rest runs when that part resumes it
                flow.metadata[RESUME_META] = functools.partial(self._resume, flow, i + 1)
                return

    def _resume(self, flow: Any, start: int) -> None:
        flow.resume()  # the proxy task wakes on the loop's next turn, after the remaining parts ran
        self._request_from(flow, start)
