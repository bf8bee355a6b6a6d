"""Route matching compiled from a RouteTable: a segment trie, so cost grows with path depth, not route count.

Each trie node has a dict of literal children, at most one `{param}` child and one `{rest:path}` terminal.
Literal beats param beats rest at every position; when a more specific branch has no route for the method,
the search backtracks to the less specific one (so `POST /a/b` can still reach `GET|POST /a/{x}`).
The matcher is immutable once built; a reload builds a new one and swaps it in whole.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

from proxy.table import ANY_METHOD, RouteSpec, RouteTable, split_path


class Match(NamedTuple):
    feature: str
    route: RouteSpec
    params: dict[str, str]


@dataclass(slots=True)
class _Node:
    literal: dict[str, _Node] = field(default_factory=dict)
    param: _Node | None = None
    param_names: dict[tuple[str, str], str] = field(default_factory=dict)  # (method, feature) -> name
    rest: dict[str, tuple[str, RouteSpec, str]] | None = None  # method -> (feature, route, param name)
    end: dict[str, tuple[str, RouteSpec]] | None = None  # method -> (feature, route)


class Matcher:
    """`match(method, path)` -> Match or None. Build with `Matcher(table)`; never mutated afterwards."""

    __slots__ = ("_root", "size")

    def __init__(self, table: RouteTable):
        self._root = _Node()
        self.size = 0
        for fname, feature in table.features.items():
            for route in feature.routes:
                self._add(fname, route)

    def _add(self, feature: str, route: RouteSpec) -> None:
        node = self._root
        names: list[str] = []
        for seg in route.template.segments:
            if seg.kind == "literal":
                node = node.literal.setdefault(seg.value, _Node())
            elif seg.kind == "param":
                names.append(seg.value)
                if node.param is None:
                    node.param = _Node()
                node = node.param
            else:  # rest: terminal
                node.rest = node.rest or {}
                for method in route.methods:
                    node.rest.setdefault(method, (feature, route, seg.value))
                self.size += 1
                return
        node.end = node.end or {}
        for method in route.methods:
            node.end.setdefault(method, (feature, route))
        self.size += 1

    def match(self, method: str, path: str) -> Match | None:
        parts = split_path(path)
        found = _search(self._root, parts, 0, method)
        if found is None:
            return None
        feature, route, rest_value = found
        params: dict[str, str] = {}
        segments = route.template.segments
        for i, seg in enumerate(segments):
            if seg.kind == "param":
                params[seg.value] = parts[i]
            elif seg.kind == "rest":
                params[seg.value] = rest_value or ""
        return Match(feature, route, params)


def _pick(table: dict, method: str):
    hit = table.get(method)
    if hit is None:
        hit = table.get(ANY_METHOD)
    return hit


def _search(node: _Node, parts: tuple[str, ...], i: int, method: str) -> tuple[str, RouteSpec, str | None] | None:
    if i == len(parts):
        if node.end is not None:
            hit = _pick(node.end, method)
            if hit is not None:
                return hit[0], hit[1], None
        return None
    child = node.literal.get(parts[i])
    if child is not None:
        found = _search(child, parts, i + 1, method)
        if found is not None:
            return found
    if node.param is not None:
        found = _search(node.param, parts, i + 1, method)
        if found is not None:
            return found
    if node.rest is not None:
        hit = _pick(node.rest, method)
        if hit is not None:
            return hit[0], hit[1], "/".join(parts[i:])
    return None
