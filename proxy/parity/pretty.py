"""JSON answers pretty-printed line by line, each line carrying the exact path of the value it shows, so a
viewer can mark the lines a difference is about (the dashboard's difference viewer, the HTML report)."""
from __future__ import annotations

import json
from typing import Any

from proxy.parity.paths import format_path


def json_lines(value: Any, segments: tuple[Any, ...] = (), indent: int = 0, key: str | None = None,
               last: bool = True) -> list[dict[str, Any]]:
    """Pretty-printed JSON, one dict per line with the exact path of the value it starts ($.a[2].b)."""
    pad, comma = "  " * indent, "" if last else ","
    head = pad + (json.dumps(key, ensure_ascii=False) + ": " if key is not None else "")
    path = format_path(segments)
    if isinstance(value, dict) and value:
        out = [{"text": head + "{", "path": path}]
        items = list(value.items())
        for i, (k, v) in enumerate(items):
            out += json_lines(v, (*segments, str(k)), indent + 1, str(k), i == len(items) - 1)
        return [*out, {"text": pad + "}" + comma, "path": path}]
    if isinstance(value, list) and value:
        out = [{"text": head + "[", "path": path}]
        for i, v in enumerate(value):
            out += json_lines(v, (*segments, i), indent + 1, None, i == len(value) - 1)
        return [*out, {"text": pad + "]" + comma, "path": path}]
    return [{"text": head + json.dumps(value, ensure_ascii=False) + comma, "path": path}]


def answer_lines(body: str) -> list[dict[str, Any]]:
    """A stored answer body as lines: JSON pretty-printed with paths, anything else line by line."""
    try:
        return json_lines(json.loads(body)) if body.strip() else []
    except ValueError:
        return [{"text": t, "path": None} for t in body.splitlines()]


__all__ = ["answer_lines", "json_lines"]
