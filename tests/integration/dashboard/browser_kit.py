"""Real headless Debian Chromium through Playwright (never a downloaded browser), and the page checks the
dashboard's browser tests share: nothing wider than the viewport, log in."""
from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from dashboard_stack import TOKEN

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]

# Elements sticking out past the right edge of the viewport, unless clipped by a scroll box that itself fits
# (a table scrolling inside its box is fine; the page scrolling sideways is not).
OVERFLOW_JS = """() => {
  const w = window.innerWidth;
  const clipped = (el) => {
    for (let p = el.parentElement; p; p = p.parentElement) {
      const o = getComputedStyle(p).overflowX;
      if ((o === 'auto' || o === 'scroll' || o === 'hidden') && p.getBoundingClientRect().right <= w + 1) return true;
    }
    return false;
  };
  const wide = [...document.querySelectorAll('body *')].filter((el) => {
    const r = el.getBoundingClientRect();
    return r.width > 0 && (r.right > w + 1 || r.left < -1) && !clipped(el) && !el.closest('dialog:not([open])');
  }).map((el) => `${el.tagName.toLowerCase()}.${el.className} ${Math.round(el.getBoundingClientRect().right)}px`);
  return {scrollWidth: document.documentElement.scrollWidth, innerWidth: w, wide: wide.slice(0, 10)};
}"""


@pytest.fixture(scope="module")
def browser(tmp_path_factory) -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.skip("Debian's /usr/bin/chromium is not installed (apt-get install -y chromium)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install playwright)")
    profile = tmp_path_factory.mktemp("chromium-profile")
    with sync_api.sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            str(profile), executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True,
            viewport={"width": 1400, "height": 1000}, timezone_id="UTC", locale="en-GB")
        try:
            yield context
        finally:
            context.close()


def log_in(page: Any, admin_url: str) -> None:
    page.goto(f"{admin_url}/ui")
    if page.url.endswith("/ui/login"):
        page.fill("#token", TOKEN)
        page.click("button[type=submit]")
        page.wait_for_url(re.compile(r"/ui$"))


def overflow(page: Any) -> dict[str, Any]:
    result: dict[str, Any] = page.evaluate(OVERFLOW_JS)
    return result
