"""Route templates -> one ordered list of regexes over "METHOD raw-path", matching exactly like proxy.matcher.

Why not nginx `location` blocks: locations match the *normalised* `$uri` (percent-decoded, `//` merged,
`..` resolved) while the façade matches the raw path, and a location cannot fall back to a less specific
template when its own route does not claim the method (the façade's trie does: `POST /a/b` may still reach
`POST /a/{x}`). A `map` over `"$request_method $raw_path"` with regexes tried in order does both: the
routes are emitted in the façade's search order (literal > {param} > {rest:path}, position by position),
so the first regex that matches is the route the façade would pick.
"""
from __future__ import annotations

from dataclasses import dataclass

from proxy.table import ANY_METHOD, READ_METHODS, PathTemplate, RouteSpec, RouteTable

_RANK = {"literal": 2, "param": 1, "rest": 0}
_REGEX_SPECIAL = frozenset("\\.^$|?*+()[]{}-/ #\"';")
SAFE_METHODS = ("GET", "HEAD")


@dataclass(frozen=True, slots=True)
class RouteRule:
    """One feature route as the exporter sees it: its position in the façade's search order and its regex."""

    feature: str
    route: RouteSpec
    methods: tuple[str, ...]  # ("*",) = any method


def escape_literal(text: str) -> str:
    """PCRE-escape a literal path segment (every non-alphanumeric that could mean something is escaped)."""
    return "".join("\\" + c if c in _REGEX_SPECIAL else c for c in text)


def path_regex(template: PathTemplate) -> str:
    """Regex (no anchors) for the raw paths `template.match` accepts, incl. one optional trailing '/'.

    split_path drops one trailing empty segment, so a last `{param}` must be non-empty unless followed by
    '/', and `{rest:path}` needs at least one more segment (possibly empty: "/a//").
    """
    segs = template.segments
    if not segs:
        return "/"
    out = []
    for i, seg in enumerate(segs):
        last = i == len(segs) - 1
        if seg.kind == "rest":
            out.append("/.+")
        elif seg.kind == "literal":
            out.append("/" + escape_literal(seg.value) + ("/?" if last else ""))
        elif last:
            out.append("/(?:[^/]+/?|/)")
        else:
            out.append("/[^/]*")
    return "".join(out)


def method_regex(methods: tuple[str, ...]) -> str:
    if methods == (ANY_METHOD,):
        return "[^ ]+"
    return methods[0] if len(methods) == 1 else "(?:" + "|".join(methods) + ")"


def rule_regex(methods: tuple[str, ...], template: PathTemplate) -> str:
    """Full anchored regex over "METHOD path" (path without query)."""
    return "^" + method_regex(methods) + " " + path_regex(template) + "$"


def ordered_rules(table: RouteTable) -> list[RouteRule]:
    """Every (feature, route) in the façade's search order: most specific template first; within one
    template shape, routes naming methods explicitly before '*' (the trie prefers an exact method)."""
    rules = [RouteRule(fname, route, tuple(route.methods))
             for fname, feat in table.features.items() for route in feat.routes]
    # stable sort: table order is kept among equals (equal shapes never overlap except by method)
    rules.sort(key=lambda r: (tuple(_RANK[s.kind] for s in r.route.template.segments),
                              0 if r.methods == (ANY_METHOD,) else 1), reverse=True)
    return rules


def split_reads(methods: tuple[str, ...]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(reads, writes) of a rule as the façade routes writes by owner; '*' splits into the reads and '*'."""
    if methods == (ANY_METHOD,):
        return READ_METHODS, (ANY_METHOD,)
    return tuple(m for m in methods if m in READ_METHODS), tuple(m for m in methods if m not in READ_METHODS)


def split_safe(methods: tuple[str, ...]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(safe methods, unsafe methods) of a rule; '*' splits into GET/HEAD and '*' (tried after the safe)."""
    if methods == (ANY_METHOD,):
        return SAFE_METHODS, (ANY_METHOD,)
    return (tuple(m for m in methods if m in SAFE_METHODS), tuple(m for m in methods if m not in SAFE_METHODS))
