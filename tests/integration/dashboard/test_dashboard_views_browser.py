"""The dashboard's detail views in real headless Chromium against a real mitmdump façade: the difference viewer
shows a planted mismatch (and adds an ignore rule through the CLI's path), a refused move has no button, the
drill-down page, keyboard reach, and nothing overflows a phone or a desktop viewport (screenshots kept)."""
from __future__ import annotations

import httpx
import pytest
from browser_kit import log_in, overflow
from dashboard_stack import TOKEN, Background

from proxy.ledger import read_records
from proxy.table import load_table
from strangler.footprint.svg import render_svg

pytestmark = pytest.mark.integration
AUTH = {"Authorization": f"Bearer {TOKEN}"}
SIZES = {"small-phone": (360, 740), "phone": (390, 844), "desktop": (1400, 1000), "wide": (2560, 1440)}


def things(page):
    return page.locator("article.card", has=page.locator("h3", has_text="things"))


def test_diff_viewer_shows_the_planted_mismatch_and_adds_an_ignore_rule(dash, browser, tmp_path):
    dash.traffic(20)
    page = browser.new_page()
    page.set_default_timeout(15_000)
    log_in(page, dash.admin_url)
    field = things(page).locator("button.field-link", has_text="$.Price")
    field.wait_for()
    field.click()
    viewer = page.locator("#diff-dialog")
    viewer.locator("section.example").first.wait_for()
    first = viewer.locator("section.example").first
    # The planted mismatch: legacy "1.00", candidate "1.0" at $.Price, marked on both sides.
    legacy = first.locator(".answer-legacy .diff-line[data-path='$.Price']")
    candidate = first.locator(".answer-candidate .diff-line[data-path='$.Price']")
    assert '"1.00"' in legacy.inner_text() and '"1.0"' in candidate.inner_text()
    assert legacy.inner_text().startswith("≠")  # a text mark, not colour alone
    assert "GET /api/things/" in first.inner_text() and "real" in viewer.inner_text()
    command = first.locator("code.cmd").inner_text()
    assert command.startswith("strangler parity export ")
    with page.expect_download() as got:
        first.locator("a", has_text="curl script").click()
    script = got.value.path().read_text()
    assert script.startswith("#!/bin/sh") and "/api/things/" in script
    page.screenshot(path=str(tmp_path / "diff-viewer.png"))

    # "Add ignore rule" goes through add_ignore_rules: the route table changes and the ledger says so.
    viewer.locator("#ignore-add").click()
    page.wait_for_function("() => /recorded in the ledger/.test(document.querySelector('#diff-dialog').innerText)")
    assert "$.Price" in load_table(dash.routes).features["things"].parity.ignore
    [rec] = [r for r in read_records(dash.var / "ledger.jsonl") if r["evidence"].get("action") == "parity.ignore.add"]
    assert rec["actor"] == "dashboard" and rec["feature"] == "things"
    page.click("#diff-close")
    page.close()


def test_refused_move_has_no_button_and_allowed_ones_are_keyboard_reachable(dash, browser):
    page = browser.new_page()
    page.set_default_timeout(15_000)
    log_in(page, dash.admin_url)
    widgets = page.locator("article.card", has=page.locator("h3", has_text="widgets"))
    widgets.locator("button.flip").first.wait_for()
    data = httpx.get(f"{dash.admin_url}/ui/data", headers=AUTH, timeout=10).json()
    controls = {c["to"]: c for c in next(f for f in data["features"] if f["name"] == "widgets")["controls"]}
    assert not controls["retired"]["allowed"]
    assert widgets.locator("button[data-to=retired]").count() == 0  # refused by retire_rule: no button
    shown = {b.get_attribute("data-to") for b in widgets.locator("button.flip").all()}
    assert shown == {to for to, c in controls.items() if c["allowed"]} and "shadow" in shown
    assert "retired" in widgets.locator("details.refused summary").inner_text()
    # Keyboard: Tab reaches the flip buttons; Enter opens the confirmation naming the evidence.
    page.locator("body").focus()
    for _ in range(80):  # bounded
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.dataset.feature === 'widgets' && "
                         "document.activeElement.dataset.to === 'shadow'"):
            break
    else:
        raise AssertionError("the shadow button of widgets is not reachable with Tab")
    before = page.inner_text("#status")  # the next poll rebuilds the cards; the keyboard stays on the button
    page.wait_for_function("(t) => document.querySelector('#status').textContent !== t", arg=before)
    assert page.evaluate("document.activeElement.dataset.focusKey") == "flip:widgets:shadow"
    page.keyboard.press("Enter")
    assert page.locator("#flip-dialog").is_visible()
    assert "samples" in page.inner_text("#flip-evidence")
    page.keyboard.press("Escape")
    page.close()


def test_drill_down_page(dash, browser):
    with Background(dash, bursts=4):
        page = browser.new_page()
        page.set_default_timeout(15_000)
        log_in(page, dash.admin_url)
        things(page).locator("a.details").click()
        drill = page.locator("#drill")
        drill.locator("h4", has_text="Traffic per route").wait_for()
        page.wait_for_function("() => /\\/api\\/things\\/\\{id\\}/.test(document.querySelector('#drill').innerText)")
        text = drill.inner_text().lower()  # headings are upper-cased by the style sheet
        assert "canary cohort split" in text and "configured 50%" in text
        assert "parity and shadow copies per route" in text and "thing_tags" in text
        assert "ledger of this feature" in text
        assert not page.locator("#features").is_visible()  # the overview is hidden while drilling
        page.click("#drill-refresh")
        drill.locator("h4", has_text="Traffic per route").wait_for()
        page.locator("#drill a", has_text="all features").click()
        page.locator("#features article.card").first.wait_for()
        page.close()


@pytest.mark.parametrize("size", list(SIZES))
def test_nothing_overflows_the_viewport(dash, browser, tmp_path, size):
    width, height = SIZES[size]
    page = browser.new_page()
    page.set_viewport_size({"width": width, "height": height})
    page.set_default_timeout(15_000)
    log_in(page, dash.admin_url)
    things(page).locator("td.side-target").wait_for()
    page.locator("#ledger").wait_for()
    found = overflow(page)
    page.screenshot(path=str(tmp_path / f"dashboard-{width}x{height}.png"), full_page=True)
    assert found["scrollWidth"] <= found["innerWidth"] and not found["wide"], found
    things(page).locator("button.field-link").first.click()
    page.locator("#diff-dialog section.example").first.wait_for()
    found = overflow(page)
    page.screenshot(path=str(tmp_path / f"diff-viewer-{width}x{height}.png"))
    assert not found["wide"], found
    page.click("#diff-close")
    things(page).locator("a.details").click()
    page.locator("#drill h4", has_text="Traffic per route").wait_for()
    found = overflow(page)
    page.screenshot(path=str(tmp_path / f"drill-{width}x{height}.png"), full_page=True)
    assert found["scrollWidth"] <= found["innerWidth"] and not found["wide"], found
    assert (tmp_path / f"dashboard-{width}x{height}.png").stat().st_size > 10_000
    page.close()


def test_footprint_picture_and_shadow_copies_on_the_overview(dash, browser):
    """The picture `strangler analyze` saves is shown (drawn in Python: no Graphviz on this machine needed)."""
    pic = dash.var / "footprint" / "footprint.svg"
    pic.parent.mkdir(exist_ok=True)
    pic.write_text(render_svg({"extraction_order": [{"module": "orders", "owns": ["ORDERS"]},
                                                    {"module": "catalog", "owns": ["PRODUCTS"]}],
                               "coupling": [{"module": "orders", "owner": "catalog", "table": "PRODUCTS",
                                             "access": "read", "reads": 3, "writes": 0}]}))
    page = browser.new_page()
    page.set_default_timeout(15_000)
    log_in(page, dash.admin_url)
    page.wait_for_function("() => { const i = document.querySelector('#footprint img.footprint');"
                           " return i && i.complete && i.naturalWidth > 0; }")
    # things is a canary with comparisons: the copies' own row shows their count and p95, not "0, —".
    row = things(page).locator("tr.copies")
    row.wait_for()
    assert "copies" in row.inner_text() and " ms" in row.inner_text()
    page.close()
