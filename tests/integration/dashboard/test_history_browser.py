"""History in a real headless Chromium against a real façade (mitmdump): the charts drawn from the stored
series survive a page reload AND a façade restart (the restarted façade's memory is empty: what the page shows
came from the store), with the ledger's flip as a marker."""
from __future__ import annotations

import re
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import httpx
import pytest
from dashboard_stack import ROOT, ROUTES, TOKEN, DashStack, facade_argv, upstream_argv

from strangler.procs import free_port, running

pytestmark = pytest.mark.integration

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
AUTH = {"Authorization": f"Bearer {TOKEN}"}
TICK_WAIT_S = 60  # the façade writes every 10 s; a busy machine may be slow to schedule it


@pytest.fixture
def browser(tmp_path):
    if not CHROMIUM.exists():
        pytest.skip("Debian's /usr/bin/chromium is not installed (apt-get install -y chromium)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install playwright)")
    with sync_api.sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            str(tmp_path / "profile"), executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True,
            viewport={"width": 1400, "height": 1000}, timezone_id="UTC", locale="en-GB")
        try:
            yield context
        finally:
            context.close()


@contextmanager
def upstreams(s: DashStack, legacy: int, svc: int) -> Iterator[None]:
    with ExitStack() as stack:
        for name, port in (("legacy", legacy), ("svc", svc)):
            stack.enter_context(running(upstream_argv(name, port), env={"UPSTREAM_NAME": name},
                                        health_url=f"http://127.0.0.1:{port}/healthz", log_path=s.tmp / f"{name}.log"))
        yield


@contextmanager
def facade(s: DashStack, legacy: int, run: int) -> Iterator[None]:
    env = {"STRANGLER_ADMIN_TOKEN": TOKEN, "STRANGLER_VAR_DIR": str(s.var)}
    with running(facade_argv(legacy, s.port, s.routes, s.admin, s.tmp / "access.jsonl"), env=env, cwd=ROOT,
                 health_url=f"{s.admin_url}/healthz", log_path=s.tmp / f"facade-{run}.log", timeout=40):
        yield


def history(s: DashStack) -> dict:
    r = httpx.get(f"{s.admin_url}/dashboard/api/history?feature=things&range=1h", headers=AUTH, timeout=10)
    assert r.status_code == 200, r.text
    return r.json()


def stored_requests(doc: dict) -> int:
    return sum(sum(doc["series"].get(side, {}).get("requests", [])) for side in ("legacy", "target"))


def wait_for_requests(s: DashStack, at_least: int) -> dict:
    deadline = time.monotonic() + TICK_WAIT_S
    while True:
        doc = history(s)
        if stored_requests(doc) >= at_least:
            return doc
        assert time.monotonic() < deadline, f"no history tick within {TICK_WAIT_S} s: {doc}"
        time.sleep(1)


def login(page, s: DashStack) -> None:
    page.goto(f"{s.admin_url}/ui")
    page.fill("#token", TOKEN)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r"/ui$"))


def charts_shown(page) -> dict:
    """Wait for the history charts to have points; what they show (points, first point, series, markers)."""
    page.wait_for_function("() => Number(document.querySelector('#history-charts')?.dataset.points || 0) > 0")
    return page.evaluate("""() => {
        const box = document.querySelector('#history-charts');
        return {points: Number(box.dataset.points), first: Number(box.dataset.firstT),
                series: [...box.querySelectorAll('path[data-series]')].map(p => p.dataset.series),
                charts: [...box.querySelectorAll('svg[data-chart]')].map(c => c.dataset.chart),
                ticks: [...box.querySelectorAll('.history-tick')].map(t => t.textContent),
                legend: [...box.querySelectorAll('.history-legend')].map(t => t.textContent),
                markers: [...document.querySelectorAll('#history-markers li')].map(li => li.textContent),
                marker_lines: box.querySelectorAll('g.history-marker').length,
                feature: document.querySelector('#history-feature').value,
                overflow: document.documentElement.scrollWidth > window.innerWidth};
    }""")


def test_history_survives_a_page_reload_and_a_facade_restart(tmp_path, browser) -> None:
    legacy, svc = free_port(), free_port()
    s = DashStack(tmp=tmp_path, var=tmp_path / "var", port=free_port(), admin=free_port(),
                  routes=tmp_path / "routes.yaml")
    s.var.mkdir()
    s.routes.write_text(ROUTES.format(legacy=legacy, svc=svc))
    page = browser.new_page()
    page.set_default_timeout(TICK_WAIT_S * 1000)
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    with upstreams(s, legacy, svc):
        with facade(s, legacy, 1):
            s.traffic(60)
            flip = httpx.post(f"{s.admin_url}/flip", headers=AUTH, timeout=10,
                              json={"feature": "things", "to": "canary", "percent": 80, "reason": "more traffic"})
            assert flip.status_code == 200, flip.text
            before = wait_for_requests(s, 1)
            login(page, s)
            page.goto(f"{s.admin_url}/ui#history=things:1h")
            shown = charts_shown(page)
            assert shown["feature"] == "things" and shown["charts"] == ["rps", "errors", "p95", "split"]
            assert {"legacy", "target", "canary"} <= set(shown["series"])
            assert any("target: latest" in t for t in shown["legend"]) and shown["ticks"]
            assert any("flip" in m and "canary" in m and "80" in m for m in shown["markers"])
            assert shown["marker_lines"] >= 4 and not shown["overflow"]  # the marker in each of the four charts

            page.reload()  # the page keeps nothing: the same points come back from the store
            again = charts_shown(page)
            assert again["first"] == shown["first"] and again["points"] >= shown["points"]
            first_t = min(col["t"][0] for col in before["series"].values() if col["t"])

        restarted_at = time.time()
        with facade(s, legacy, 2):  # a new process: its counters and the page's session start empty
            after = history(s)
            assert stored_requests(after) >= stored_requests(before)
            login(page, s)
            page.goto(f"{s.admin_url}/ui#history=things:1h")
            shown = charts_shown(page)
            assert shown["first"] == first_t < restarted_at
            assert any("flip" in m and "canary" in m for m in shown["markers"])
            page.click("#history-ranges button[data-range='7d']")  # the minute rows hold the same requests
            page.wait_for_function("() => document.querySelector(\"#history-ranges button[aria-pressed='true']\")"
                                   ".dataset.range === '7d'")
            assert charts_shown(page)["points"] > 0
            assert page.evaluate("location.hash") == "#history=things:1h"  # never rewritten (app.js routes on it)
            page.goto(f"{s.admin_url}/ui")  # the browser kept the choice
            page.wait_for_function("() => document.querySelector(\"#history-ranges button[aria-pressed='true']\")"
                                   "?.dataset.range === '7d'")
            assert charts_shown(page)["feature"] == "things"
            page.locator("#history").screenshot(path=str(tmp_path / "history-1400.png"))
            page.set_viewport_size({"width": 390, "height": 844})  # a phone: the charts are redrawn to fit
            page.wait_for_function("() => [...document.querySelectorAll('#history svg[data-chart]')]"
                                   ".every(c => c.getBoundingClientRect().right <= window.innerWidth)")
            wide = page.evaluate("() => [...document.querySelectorAll('#history *')]"
                                 ".filter(e => e.getBoundingClientRect().right > window.innerWidth + 0.5)"
                                 ".map(e => e.tagName + '#' + e.id)")
            assert wide == [], f"history elements wider than a 390 px screen: {wide}"
            page.locator("#history").screenshot(path=str(tmp_path / "history-390.png"))
    assert not [e for e in errors if "history" in e], errors
