"""The parity HTML report reads as a picture: figures with units, rounding and what they measure, examples side
by side with the differing line marked, a sentence (not an empty table) for an equal result, the footprint."""
from __future__ import annotations

import re
from pathlib import Path

from proxy.parity import ParityStore, RequestInfo, Response, compare_exchange
from proxy.parity.normalise import Normaliser
from proxy.parity.report import build_report, render_html
from strangler.footprint.svg import render_svg

JSON = {"content-type": "application/json"}


def store_with(tmp_path: Path, differing: int) -> ParityStore:
    store = ParityStore(tmp_path / "p.db", background=False)
    ref = Response.of(200, JSON, b'{"Name": "a", "Price": "1.00"}')
    bad = Response.of(200, JSON, b'{"Name": "a", "Price": "1.0"}')
    for i in range(7):
        store.record(compare_exchange(Normaliser(), feature="f", route="/items/{id}",
                                      request=RequestInfo.of("GET", f"/items/{i}", {"Cookie": "secret=1"}),
                                      reference=ref, candidate=bad if i < differing else ref,
                                      latency_ms=2.345678 + i / 3))
    store.flush()
    return store


def test_figures_have_units_rounding_and_meaning_and_examples_are_side_by_side(tmp_path):
    with store_with(tmp_path, 3) as store:
        page = render_html(build_report(store), footprint=tmp_path / "none.svg")
    assert "What each figure measures" in page and "nearest rank" in page
    assert "42.86%" in page  # 3 of 7, two decimals
    p95 = re.search(r"<td>p95</td><td class='num'>([^<]*)</td>", page).group(1)
    assert p95 == "4 ms"  # whole milliseconds, never 4.345678
    assert "2.345678" not in page and "4.345678" not in page
    assert "side by side" in page and page.count("<div class='pair'>") == 1
    assert "<span class='diff'>≠   &quot;Price&quot;: &quot;1.00&quot;</span>" in page
    assert "<span class='diff'>≠   &quot;Price&quot;: &quot;1.0&quot;</span>" in page
    assert "strangler parity export 1" in page and "secret=1" not in page and "cookie" in page


def test_an_equal_result_says_so_instead_of_an_empty_table(tmp_path):
    with store_with(tmp_path, 0) as store:
        page = render_html(build_report(store), footprint=tmp_path / "none.svg")
    assert "was equal under the rules in force" in page and "<th>raw rate</th>" not in page
    assert "0.00%" in page and "Examples" not in page


def test_the_saved_footprint_picture_is_embedded(tmp_path):
    svg = tmp_path / "footprint.svg"
    svg.write_text(render_svg({"extraction_order": [{"module": "orders", "owns": ["ORDERS"]}], "coupling": []}))
    with store_with(tmp_path, 1) as store:
        page = render_html(build_report(store), footprint=svg)
    assert "<h2>SQL footprint</h2>" in page and "src='data:image/svg+xml;base64," in page
