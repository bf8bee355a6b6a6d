"""The footprint as an SVG picture drawn in Python: no Graphviz, no system package, so a fresh machine has one.

Layout: modules are boxes in columns by coupling depth (a module that reads another's tables sits left of
the owner; cycles are cut by the extraction order), arrows from reader to owner labelled with the foreign
tables and access kinds. Every text is XML-escaped (module and table names come from captured SQL). The
picture is saved next to var/footprint/analysis.json, where the dashboard and the parity HTML report show it.
"""
from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

CHAR_W = 7.2        # px per character at 12 px sans (a safe over-estimate: boxes never cut their text)
BOX_H_LINE = 16
COL_GAP = 150
ROW_GAP = 28
PAD = 20
MAX_TABLES_SHOWN = 4
MAX_LABELS = 3
SVG_NAME = "footprint.svg"


def _attr(text: object) -> str:
    return escape(str(text), {'"': "&quot;"})


def _columns(modules: list[str], edges: dict[tuple[str, str], list[str]]) -> list[list[str]]:
    """Modules grouped in columns: column = longest chain of owners after it (readers left of owners).
    Bounded: at most len(modules) relaxation rounds, so a cycle cannot loop forever."""
    depth = dict.fromkeys(modules, 0)
    for _ in range(len(modules)):
        changed = False
        for src, dst in edges:
            if src != dst and depth[src] < depth[dst] + 1 <= len(modules):
                depth[src] = depth[dst] + 1
                changed = True
        if not changed:
            break
    top = max(depth.values(), default=0)
    cols: dict[int, list[str]] = defaultdict(list)
    for m in modules:
        cols[top - depth[m]].append(m)
    return [sorted(cols[i]) for i in sorted(cols)]


def render_svg(analysis: dict[str, Any]) -> str:
    """The analysis' modules and their coupling as a standalone SVG document."""
    owned = {row["module"]: row["owns"] for row in analysis.get("extraction_order", [])}
    modules = sorted(owned)
    pairs: dict[tuple[str, str], list[str]] = defaultdict(list)
    for e in analysis.get("coupling", []):
        if e["module"] in owned and e["owner"] in owned:
            pairs[(e["module"], e["owner"])].append(f"{e['access']} {e['table']} ({e['reads'] + e['writes']})")
    if not modules:
        return _doc(360, 60, ['<text x="20" y="34" class="muted">No modules in this footprint yet: capture SQL '
                              'and run `strangler analyze`.</text>'])
    lines_of = {m: [m, *(owned[m][:MAX_TABLES_SHOWN] or ["no tables"])] +
                (["…"] if len(owned[m]) > MAX_TABLES_SHOWN else []) for m in modules}
    width_of = {m: max(90.0, max(len(t) for t in lines_of[m]) * CHAR_W + 20) for m in modules}
    height_of = {m: float(len(lines_of[m]) * BOX_H_LINE + 12) for m in modules}
    pos: dict[str, tuple[float, float]] = {}
    x = float(PAD)
    col_bottom = 0.0
    for col in _columns(modules, dict(pairs)):
        y = float(PAD + 10)
        col_w = max(width_of[m] for m in col)
        for m in col:
            pos[m] = (x, y)
            y += height_of[m] + ROW_GAP
        col_bottom = max(col_bottom, y)
        x += col_w + COL_GAP
    body: list[str] = []
    for (src, dst), labels in sorted(pairs.items()):
        body.append(_edge(pos, width_of, height_of, src, dst, labels))
    for m in modules:
        body.append(_box(pos[m], width_of[m], height_of[m], lines_of[m]))
    return _doc(x - COL_GAP + PAD, col_bottom + PAD, body)


def _box(at: tuple[float, float], w: float, h: float, lines: list[str]) -> str:
    x, y = at
    out = [f'<g class="module"><title>{_attr(lines[0])}</title>',
           f'<rect x="{x:.0f}" y="{y:.0f}" width="{w:.0f}" height="{h:.0f}" rx="8"/>']
    for i, text in enumerate(lines):
        cls = "name" if i == 0 else "table"
        out.append(f'<text x="{x + 10:.0f}" y="{y + 20 + i * BOX_H_LINE:.0f}" class="{cls}">{_attr(text)}</text>')
    return "".join(out) + "</g>"


def _edge(pos: dict[str, tuple[float, float]], width_of: dict[str, float], height_of: dict[str, float],
          src: str, dst: str, labels: list[str]) -> str:
    (sx, sy), (dx, dy) = pos[src], pos[dst]
    if src == dst:
        return ""
    x1, y1 = sx + width_of[src], sy + height_of[src] / 2
    x2, y2 = dx, dy + height_of[dst] / 2
    if dx <= sx:  # owner in the same or an earlier column (a cycle): leave from the left, arrive at the right
        x1, x2 = sx, dx + width_of[dst]
    mid = (x1 + x2) / 2
    path = f"M{x1:.0f},{y1:.0f} C{mid:.0f},{y1:.0f} {mid:.0f},{y2:.0f} {x2:.0f},{y2:.0f}"
    shown = labels[:MAX_LABELS] + ([f"… {len(labels) - MAX_LABELS} more"] if len(labels) > MAX_LABELS else [])
    ly = (y1 + y2) / 2 - 6 * (len(shown) - 1)
    text = "".join(f'<text x="{mid:.0f}" y="{ly + i * 13:.0f}" class="label" text-anchor="middle">{_attr(t)}</text>'
                   for i, t in enumerate(shown))
    return (f'<g class="edge"><title>{_attr(src)} uses {_attr(dst)}\'s tables</title>'
            f'<path d="{path}" marker-end="url(#arrow)"/>{text}</g>')


def _doc(width: float, height: float, body: list[str]) -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{height:.0f}" '
            f'viewBox="0 0 {width:.0f} {height:.0f}" role="img" aria-label="SQL footprint: modules and the '
            f'foreign tables they use">'
            '<style>text{font:12px system-ui,"DejaVu Sans",sans-serif;fill:#1d2330}'
            '.name{font-weight:700}.table,.muted{fill:#4b5563}.label{font-size:10.5px;fill:#7c2d12}'
            'rect{fill:#f8fafc;stroke:#64748b;stroke-width:1.2}.edge path{fill:none;stroke:#b45309;stroke-width:1.4}'
            '</style><defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" '
            'markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#b45309"/></marker>'
            '</defs>' + "".join(body) + "</svg>\n")


def svg_path(analysis_file: Path) -> Path:
    """The picture's place: next to the saved analysis (var/footprint/footprint.svg)."""
    return analysis_file.with_name(SVG_NAME)


__all__ = ["SVG_NAME", "render_svg", "svg_path"]
