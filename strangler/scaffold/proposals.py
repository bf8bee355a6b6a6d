"""Features `strangler init` found but that have no service yet, kept as a commented block in the route table.

Why commented: a feature needs a `target` upstream other than the default (legacy), so a feature with no
service cannot be in the table — yet its routes are the useful part of what init found. The block sits after
`features:`; `strangler add feature NAME --target SERVICE` takes a proposal's routes from it and removes it
(editing the comment tokens of the round-trip tree, so the rest of the file, comments included, stays as is).
"""
from __future__ import annotations

import json
import textwrap
from typing import Any

import yaml

from strangler.scaffold.discover import Route

MARKER = "# proposed features:"
_INDENT = "#   "


def render(features: dict[str, list[Route]]) -> str:
    """The commented block (empty when there is nothing to propose)."""
    if not features:
        return ""
    lines = [MARKER]
    for name, routes in features.items():
        lines += [f"{_INDENT}{name}:", f"{_INDENT}  target: SERVICE    # the upstream that will serve it",
                  f"{_INDENT}  state: legacy", f"{_INDENT}  routes:"]
        lines += [f"{_INDENT}    - {{methods: [{', '.join(r.methods)}], path: {json.dumps(r.path)}}}" for r in routes]
    return "\n".join(lines) + "\n"


def _block(text: str) -> tuple[int, list[str]]:
    """(0-based line of the first line after the marker, the block's lines) — the block ends at the first
    line that is not a comment."""
    lines = text.splitlines()
    if MARKER not in lines:
        return 0, []
    start = lines.index(MARKER) + 1
    end = start
    while end < len(lines) and lines[end].startswith("#"):
        end += 1
    return start, lines[start:end]


def read(text: str) -> dict[str, dict[str, Any]]:
    """name -> {"routes": [{methods, path}], "lines": (first, end)} (0-based, end exclusive); {} if unreadable."""
    start, block = _block(text)
    try:
        doc = yaml.safe_load(textwrap.dedent("\n".join(line[1:] for line in block)))
    except yaml.YAMLError:
        return {}
    if not isinstance(doc, dict):
        return {}
    heads = [i for i, line in enumerate(block) if line.startswith(_INDENT) and not line.startswith(_INDENT + " ")
             and line.rstrip().endswith(":")]
    found: dict[str, dict[str, Any]] = {}
    for n, i in enumerate(heads):
        name = block[i][len(_INDENT):].rstrip()[:-1]
        entry = doc.get(name)
        if isinstance(entry, dict) and isinstance(entry.get("routes"), list):
            end = heads[n + 1] if n + 1 < len(heads) else len(block)
            found[name] = {"routes": entry["routes"], "lines": (start + i, start + end)}
    return found


def drop(doc: Any, lines: tuple[int, int], *, last: bool) -> None:
    """Remove the comment lines [first, end) from the round-trip tree (also the marker when `last`)."""
    first, end = lines
    if last:
        first -= 1  # the marker line

    def trimmed(token: Any) -> Any:
        """The token without the dropped lines, or None when nothing is left."""
        if not hasattr(token, "column"):
            return token
        parts = token.value.splitlines(keepends=True)
        # the mark is the first comment's line; blank lines before it belong to earlier lines
        line = token.start_mark.line - next((n for n, p in enumerate(parts) if p.lstrip().startswith("#")), 0)
        kept = [p for n, p in enumerate(parts) if not first <= line + n < end or (n == 0 and token.column)]
        if len(kept) != len(parts):
            token.value = "".join(kept)
        return token if kept else None

    def clean(holder: list[Any], slots: bool) -> None:
        """Slot lists (a key's [pre, eol, post, …]) keep their positions; token lists shrink."""
        for i, item in enumerate(holder):
            if isinstance(item, list):
                clean(item, slots=False)
            elif item is not None:
                holder[i] = trimmed(item)
        if not slots:
            holder[:] = [t for t in holder if t is not None]

    def walk(item: Any) -> None:
        ca = getattr(item, "ca", None)
        if ca is not None:
            if ca.comment:
                clean(ca.comment, slots=True)
            for value in ca.items.values():
                clean(value, slots=True)
            clean(ca.end, slots=False)
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else ()
        for child in children:
            walk(child)

    walk(doc)
