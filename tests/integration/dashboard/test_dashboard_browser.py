"""The dashboard in a real headless Chromium against a real façade: log in, read, flip (refused and done),
check the flip with the real CLI, see it in the page's ledger, escaped, and keep a screenshot."""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from dashboard_stack import ROOT, TOKEN, Background

pytestmark = pytest.mark.integration

# Where the closing note finds the screenshot: the user's var dir, read before the suite isolates var/ per test.
SCREENSHOTS = Path(os.environ.get("STRANGLER_VAR_DIR") or ROOT / "var") / "screenshots"
XSS_REASON = '<img src=x onerror="window.__pwned=1">raise canary'


def cli_routes(dash) -> dict:
    """What the real `strangler routes --routes FILE --json` reports (a separate process)."""
    env = {**os.environ, "STRANGLER_VAR_DIR": str(dash.var)}
    out = subprocess.run([sys.executable, "-m", "strangler", "routes", "--routes", str(dash.routes), "--json"],
                         capture_output=True, text=True, timeout=30, cwd=ROOT, env=env, check=False)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def test_login_flip_and_ledger_in_a_real_browser(dash, browser, tmp_path):
    dash.traffic(40)
    page = browser.new_page()
    page.set_default_timeout(15_000)
    console_errors: list[str] = []
    page.on("console", lambda m: console_errors.append(m.text) if m.type == "error" else None)

    # Not logged in: the login form, and a wrong token is refused.
    page.goto(f"{dash.admin_url}/ui")
    assert page.url.endswith("/ui/login")
    page.fill("#token", "wrong-token-but-long-enough")
    page.click("button[type=submit]")
    assert "not the admin token" in page.inner_text(".login-error")
    assert not browser.cookies(dash.admin_url)

    # Log in: an HttpOnly, SameSite=Strict session cookie the page's script cannot read.
    page.fill("#token", TOKEN)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r"/ui$"))
    [cookie] = browser.cookies(dash.admin_url)
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict" and TOKEN not in cookie["value"]
    assert page.evaluate("document.cookie") == ""

    with Background(dash):
        things = page.locator("article.card", has=page.locator("h3", has_text="things"))
        things.locator("td.side-target").wait_for()
        page.wait_for_function("() => [...document.querySelectorAll('article.card .sides td.num')]"
                               ".some(td => /\\d/.test(td.textContent) && td.textContent.endsWith('/s') "
                               "&& td.textContent !== '0.0/s')")
        assert "canary 50%" in things.locator(".card-head .badge").inner_text()
        parity = things.locator(".block", has=page.locator("h4", has_text="Parity"))
        assert "$.Price" in parity.inner_text()  # the seeded differences, read from the parity store
        rate = float(parity.locator(".big").inner_text().rstrip("%"))
        assert 90.0 <= rate < 100.0  # 36/40 seeded equal; the shadow copies since then are equal ($.served_by ignored)
        assert "THING_TAGS" in things.inner_text() and "lag 0.4 s" in things.inner_text()  # ownership file
        assert page.locator("#upstreams").inner_text().count("closed") == 2

        widgets = page.locator("article.card", has=page.locator("h3", has_text="widgets"))
        # A move the gates refuse has no button: it is listed with the gate's reason instead.
        assert widgets.locator("button[data-to=retired]").count() == 0
        widgets.locator("details.refused summary").click()
        assert "flip 'widgets' to 'new' first" in widgets.locator("details.refused").inner_text()
        page.screenshot(path=str(tmp_path / "dashboard-refused.png"))
        assert cli_routes(dash)["features"]["widgets"]["state"] == "legacy"

        # A flip from the page: confirm, percent and reason, through POST /flip -> flip_feature.
        widgets.locator("button[data-to=canary]").click()
        assert page.locator("#flip-dialog").is_visible() and "widgets" in page.inner_text("#flip-summary")
        assert "samples" in page.inner_text("#flip-evidence")  # the figures the flip will be recorded with
        page.fill("#flip-percent", "30")
        page.fill("#flip-reason", XSS_REASON)
        page.click("#flip-confirm")
        page.locator("#notice").wait_for()
        assert not page.locator("#flip-dialog").is_visible()

        routes = cli_routes(dash)["features"]["widgets"]
        assert routes["state"] == "canary" and routes["canary_percent"] == 30

        first_row = page.locator("#ledger tr.ledger-row").first
        page.wait_for_function("() => document.querySelector('#ledger tr.ledger-row') !== null")
        assert "widgets" in first_row.inner_text() and "canary 30%" in first_row.inner_text()
        assert first_row.locator("td.reason").inner_text() == XSS_REASON  # shown as text...
        assert page.locator("#ledger img").count() == 0  # ...never parsed as HTML
        assert page.evaluate("window.__pwned") is None
        page.wait_for_function("() => document.querySelectorAll('article.card svg.chart path.line').length >= 2")
        page.wait_for_function("() => [...document.querySelectorAll('article.card svg.chart path.line')]"
                               ".some(p => (p.getAttribute('d').match(/L/g) || []).length >= 4)")  # a few polls
        shot = tmp_path / "dashboard.png"
        page.screenshot(path=str(shot), full_page=True)

    assert shot.stat().st_size > 10_000
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for name in ("dashboard.png", "dashboard-refused.png"):
        shutil.copyfile(tmp_path / name, SCREENSHOTS / name)
    assert not [e for e in console_errors if "Content Security Policy" in e], console_errors

    # Logout revokes the session: the data endpoint refuses the (old) cookie afterwards.
    page.click(".logout button")
    page.wait_for_url(re.compile(r"/ui/login$"))
    old = {"strangler_session": cookie["value"]}
    assert httpx.get(f"{dash.admin_url}/ui/data", cookies=old, timeout=5).status_code == 401
    page.close()
