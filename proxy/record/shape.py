"""Signatures: which recorded requests are the same CASE (issue 22, deduplication).

A signature is (method, route template, the query's keys, the body's shape), hashed. It is computed when a
request is recorded (the writer) and counted per feature, so the counts survive pruning: a replay set of
100,000 recordings becomes a few hundred cases, each with its weight (its share of the recorded traffic) and
its newest kept recording as the representative. The shape of a JSON body is its structure without values
(object keys and value types, a list as the union of its first elements' shapes); a form body is its keys;
anything else is its kind (text, binary, empty). Values never enter the signature: /api/products/3 and
/api/products/4 with {"qty": 1} and {"qty": 2} are one case.
"""
from __future__ import annotations

import hashlib
import re
from typing import Any
from urllib.parse import parse_qsl, unquote_plus

import orjson

LIST_SAMPLE = 3  # a list's shape: the union of its first elements' shapes (the rest are alike, or a new case)
_ID_SEGMENT = re.compile(r"^(\d+|[0-9a-fA-F]{8}-[0-9a-fA-F-]{27,}|[0-9a-fA-F]{24,})$")


def json_shape(value: Any) -> str:
    if isinstance(value, dict):
        return "{" + ",".join(f"{k}:{json_shape(v)}" for k, v in sorted(value.items())) + "}"
    if isinstance(value, list):
        return "[" + "|".join(sorted({json_shape(v) for v in value[:LIST_SAMPLE]})) + "]"
    if isinstance(value, str):
        return "s"
    if isinstance(value, bool):
        return "b"
    if isinstance(value, int | float):
        return "n"
    return "null"


def body_kind(body: bytes, content_type: str | None) -> tuple[str, Any]:
    """("empty" | "json" | "form" | "text" | "binary", the parsed JSON value or form keys, else None)."""
    if not body:
        return "empty", None
    ctype = (content_type or "").lower()
    if "json" in ctype or body[:1] in (b"{", b"["):
        try:
            return "json", orjson.loads(body)
        except orjson.JSONDecodeError:
            pass
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return "binary", None
    if "x-www-form-urlencoded" in ctype:
        return "form", sorted({k for k, _ in parse_qsl(text, keep_blank_values=True)})
    return ("binary", None) if "\x00" in text else ("text", None)


def body_shape(kind: str, parsed: Any) -> str:
    if kind == "json":
        return json_shape(parsed)
    if kind == "form":
        return "form(" + ",".join(parsed) + ")"
    return kind


def query_keys(path: str) -> list[str]:
    """The query's parameter names, sorted, each once (values never matter). Split by hand: parse_qsl
    unquotes every value too, which was most of a signature's cost (dedup of 1,000,000 requests)."""
    _, sep, query = path.partition("?")
    if not sep or not query:
        return []
    keys = {item.partition("=")[0] for item in query.split("&") if item}
    if any("%" in k or "+" in k for k in keys):
        keys = {unquote_plus(k) for k in keys}
    return sorted(keys)


def default_route(path: str) -> str:
    """A route for traffic no feature claims: the path with id-like segments (digits, UUIDs, hex ids) as
    {id}, so /orders/7 and /orders/8 are one case."""
    base = path.split("?", 1)[0]
    return "/".join("{id}" if _ID_SEGMENT.match(seg) else seg for seg in base.split("/")) or "/"


_SIGNATURES: dict[tuple[str, str, str, str], str] = {}
_SIGNATURES_MAX = 100_000  # a route table has few (method, route, query keys, shape) combinations: a small memo


def signature(method: str, route: str, keys: list[str], shape: str) -> str:
    key = (method, route, "&".join(keys), shape)
    found = _SIGNATURES.get(key)
    if found is None:
        text = f"{method.upper()} {route}?{key[2]} {shape}"
        found = hashlib.blake2b(text.encode("utf-8", "surrogateescape"), digest_size=8).hexdigest()
        if len(_SIGNATURES) >= _SIGNATURES_MAX:
            _SIGNATURES.clear()
        _SIGNATURES[key] = found
    return found
