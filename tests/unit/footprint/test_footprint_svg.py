"""The footprint picture drawn in Python: valid SVG, every module and edge label present, names escaped,
readers left of owners, cycles laid out without looping."""
from __future__ import annotations

import xml.etree.ElementTree as ET

from strangler.footprint.svg import render_svg

NS = "{http://www.w3.org/2000/svg}"


def analysis(edges: list[tuple[str, str, str]], owns: dict[str, list[str]]) -> dict:
    return {"extraction_order": [{"module": m, "owns": t} for m, t in owns.items()],
            "coupling": [{"module": a, "owner": b, "table": t, "access": "read", "reads": 2, "writes": 0}
                         for a, b, t in edges]}


def texts(svg: str) -> list[str]:
    return [t.text or "" for t in ET.fromstring(svg).iter(f"{NS}text")]


def boxes(svg: str) -> dict[str, float]:
    """module name -> x of its box."""
    out = {}
    for g in ET.fromstring(svg).iter(f"{NS}g"):
        if g.get("class") == "module":
            out[g.find(f"{NS}title").text] = float(g.find(f"{NS}rect").get("x"))
    return out


def test_modules_tables_and_edges_are_drawn_readers_left_of_owners():
    svg = render_svg(analysis([("orders", "catalog", "PRODUCTS"), ("billing", "orders", "ORDERS")],
                              {"orders": ["ORDERS"], "catalog": ["PRODUCTS"], "billing": []}))
    shown = texts(svg)
    assert {"orders", "catalog", "billing", "ORDERS", "PRODUCTS", "no tables"} <= set(shown)
    assert "read PRODUCTS (2)" in shown and "read ORDERS (2)" in shown
    x = boxes(svg)
    assert x["billing"] < x["orders"] < x["catalog"]


def test_names_from_captured_sql_are_escaped():
    svg = render_svg(analysis([("a<script>", "b&c", 'T"1')], {"a<script>": [], "b&c": ['T"1']}))
    assert "<script>" not in svg and "a&lt;script&gt;" in svg
    assert "a<script>" in texts(svg)  # and the reader still sees the real name


def test_a_cycle_is_laid_out_and_an_empty_analysis_says_what_to_do():
    svg = render_svg(analysis([("a", "b", "B"), ("b", "a", "A")], {"a": ["A"], "b": ["B"]}))
    assert {"a", "b"} <= set(boxes(svg))
    assert "strangler analyze" in "".join(texts(render_svg({"extraction_order": [], "coupling": []})))
