"""`strangler status` is built from sections so each part (routes, data ownership...) shows its own view.

A section is `fn(settings) -> (rich renderable, json-able dict)`. Every section is declared once, in print
order, in SECTIONS at the end of this module (a part's module is imported only when `status` runs); one
failing section shows its error and never breaks the others.
"""
from __future__ import annotations

import importlib
import time
from collections.abc import Callable, Sequence
from typing import Any

import httpx
from rich.console import RenderableType
from rich.text import Text

from strangler.cli.output import Col, FitTable, short_time
from strangler.runstate import ProcessStatus, accepts_connections, pid_alive, read_state, running_supervisor
from strangler.settings import KitSettings

Section = Callable[[KitSettings], tuple[RenderableType, Any]]


def sections() -> list[str]:
    return [name for name, _ in SECTIONS]


def collect(settings: KitSettings, providers: Sequence[tuple[str, Section]] | None = None,
            ) -> list[tuple[str, RenderableType, Any]]:
    """Run every section (`providers`, default SECTIONS); an exception becomes that section's error instead
    of breaking the command."""
    results = []
    for name, fn in SECTIONS if providers is None else providers:
        try:
            renderable, data = fn(settings)
        except Exception as exc:  # noqa: BLE001 - a broken section must not hide the others
            message = f"{type(exc).__name__}: {exc}"
            renderable, data = Text(f"{name}: error — {message}", style="red"), {"error": message}
        results.append((name, renderable, data))
    return results


def live_health(proc: dict[str, Any]) -> tuple[bool, str]:
    """Ask the process now (not what the supervisor last saw)."""
    if not pid_alive(proc.get("pid")):
        return False, ProcessStatus.STOPPED
    url = proc.get("health_url")
    if not url:
        ok = accepts_connections(proc["host"], proc["port"])
        return ok, "listening" if ok else "not listening"
    try:
        response = httpx.get(url, timeout=2.0)
    except httpx.HTTPError as exc:
        return False, f"down: {type(exc).__name__}"
    if response.status_code < 500:
        return True, f"healthy {response.status_code}"
    return False, f"unhealthy {response.status_code}"


def _uptime(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    seconds = int(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"


def processes_table(state: dict[str, Any], *, title: str | None = None) -> FitTable:
    """Name → URL → pid, as printed by `up` when the stack is healthy."""
    table = FitTable(Col("process", whole=True), Col("url", squeeze=True), Col("pid", justify="right", whole=True),
                     Col("status"), title=title)
    for name, proc in state.get("processes", {}).items():
        table.add_row(name, proc.get("url") or "-", str(proc.get("pid") or "-"), proc.get("status") or "-")
    return table


def processes_section(settings: KitSettings) -> tuple[RenderableType, dict[str, Any]]:
    run_dir = settings.run_dir
    state = read_state(run_dir)
    supervisor = running_supervisor(run_dir)
    if state is None:
        return (Text("No stack has run here yet — start one with `strangler up`."),
                {"running": False, "supervisor_pid": None, "processes": {}})
    now = time.time()
    table = FitTable(Col("process", whole=True), Col("pid", justify="right", whole=True), Col("url"),
                     Col("health"), Col("uptime", whole=True), Col("restarts", justify="right", whole=True),
                     Col("note", squeeze=True),
                     title=(f"Stack (supervisor pid {supervisor}, since {short_time(state.get('started_at'))})"
                            if supervisor else f"Stack — not running (last status: {state.get('status')})"),
                     caption=None if supervisor or not state.get("error") else
                     "last error: " + state["error"].splitlines()[0])
    data: dict[str, Any] = {"running": supervisor is not None, "supervisor_pid": supervisor,
                            "status": state.get("status") if supervisor else "not running",
                            "stack_file": state.get("stack_file"), "processes": {}}
    for name, proc in state.get("processes", {}).items():
        alive = pid_alive(proc.get("pid"))
        healthy, health = live_health(proc)
        uptime = now - proc["started_at"] if alive and proc.get("started_at") else None
        table.add_row(name, str(proc.get("pid") if alive else "-"), proc.get("url") or "-",
                      Text(health, style="green" if healthy else "red"), _uptime(uptime),
                      str(proc.get("restarts", 0)), proc.get("message") or "")
        data["processes"][name] = {"pid": proc.get("pid") if alive else None, "url": proc.get("url"),
                                   "healthy": healthy, "health": health, "uptime_s": uptime,
                                   "restarts": proc.get("restarts", 0), "supervisor_status": proc.get("status"),
                                   "message": proc.get("message")}
    return table, data


def dry_run_section(_settings: KitSettings) -> tuple[RenderableType, dict[str, Any]]:
    """Which dry-run targets proved they roll shadowed writes back, and which ignore the protocol."""
    from pathlib import Path

    from proxy.parity.store import TARGET_UNSAFE, UNSAFE_TEXT, open_store, parity_location

    location = parity_location(None)
    if isinstance(location, Path) and not location.exists():
        return Text("Dry-run targets: none probed yet."), {"targets": {}}
    with open_store(location, background=False) as store:
        targets = store.targets()
    if not targets:
        return Text("Dry-run targets: none probed yet."), {"targets": {}}
    table = FitTable(Col("upstream", whole=True), Col("feature", whole=True), Col("state"), Col("writes", squeeze=True),
                     Col("detail", squeeze=True), title="Dry-run targets (shadowed writes)")
    for name, t in targets.items():
        unsafe = t["state"] == TARGET_UNSAFE
        says = UNSAFE_TEXT if unsafe else "acknowledged — writes shadowed"
        t["says"] = says
        table.add_row(name, t["feature"] or "-", Text(t["state"], style="bold red" if unsafe else "green"),
                      Text(says, style="bold red" if unsafe else "green"), t["reason"] or "")
    return table, {"targets": targets}


def _deferred(target: str) -> Section:
    """The section `module:function`, imported when `status` runs (a CLI call imports only its own module)."""
    module, _, name = target.partition(":")

    def section(settings: KitSettings) -> tuple[RenderableType, Any]:
        fn: Section = getattr(importlib.import_module(module), name)
        return fn(settings)

    section.__qualname__ = target
    return section


# Every section of `strangler status`, in print order (declared here once; nothing registers at import time).
SECTIONS: tuple[tuple[str, Section], ...] = (
    ("processes", processes_section),
    ("dry_run", dry_run_section),
    ("routes", _deferred("strangler.cli.routes:routes_status_section")),
    ("data", _deferred("strangler.migrate.gate:data_section")),
)
