"""One recorded exchange, from what the façade handed over to the row stored: redaction BEFORE anything is
kept, the body limit, the signature. Pure (no I/O): the writer process (writer.py) and the dedup benchmark
(load/bench_record.py) call the same code.

Bodies: JSON, text and form bodies are kept as UTF-8 text, anything else (images, protobuf, invalid UTF-8) as
base64 (`body_encoding`). A body longer than `record.body_limit` is recorded as truncated (`body_truncated`,
`body_size` its real length) with its first `body_limit` bytes — or none of them when it is compressed or the
feature redacts JSON body paths (a cut JSON body cannot be redacted, so nothing of it is kept). A truncated
request is never replayed as if whole (proxy/record/replay.py skips it and says so). A compressed legacy
answer is stored decoded (Content-Encoding removed), as a client would compare it.
"""
from __future__ import annotations

import base64
import json
from typing import Any, NamedTuple

import orjson

from proxy.parity.redact import StableRedactor
from proxy.record.config import RecordConfig
from proxy.record.shape import body_kind, body_shape, query_keys, signature
from proxy.shadow.clients import decoded


class Captured(NamedTuple):
    """What the façade sends the writer for one recorded exchange (a plain tuple on the pipe). Bodies are
    already cut to the feature's body_limit; `*_size` are their real lengths."""

    feature: str
    route: str
    method: str
    path: str
    headers: tuple            # the client's request header fields (bytes pairs, as mitmproxy holds them)
    body: bytes
    body_size: int
    status: int
    response_headers: tuple
    response_body: bytes
    response_size: int
    latency_ms: float
    ts: float


def redactor_for(config: RecordConfig, salt: bytes) -> StableRedactor:
    r = config.redact
    return StableRedactor.of(salt, r.headers, r.query, r.json_paths)


def _pairs(fields: tuple) -> list[tuple[str, str]]:
    return [(k.decode("utf-8", "surrogateescape") if isinstance(k, bytes) else k,
             v.decode("utf-8", "surrogateescape") if isinstance(v, bytes) else v) for k, v in fields]


def _header(headers: list[tuple[str, str]], name: str) -> str | None:
    return next((v for k, v in headers if k.lower() == name), None)


def _body(raw: bytes, size: int, ctype: str | None, redactor: StableRedactor, hits: set[str],
          encoded: bool = False) -> tuple[dict[str, Any], str]:
    """(the stored body fields, its shape for the signature)."""
    truncated = size > len(raw)
    if truncated:
        keep = b"" if encoded or redactor.json_paths else raw
        return {**_encoded(keep), "body_truncated": True, "body_size": size}, "truncated"
    kind, parsed = body_kind(raw, ctype)
    if kind == "json" and redactor.json_paths:
        raw = orjson.dumps(redactor.json(parsed, hits))
    return {**_encoded(raw), "body_truncated": False, "body_size": size, "body_kind": kind}, body_shape(kind, parsed)


def _encoded(raw: bytes) -> dict[str, Any]:
    try:
        text = raw.decode("utf-8")
        if "\x00" not in text:
            return {"body": text, "body_encoding": "utf-8"}
    except UnicodeDecodeError:
        pass
    return {"body": base64.b64encode(raw).decode("ascii"), "body_encoding": "base64"}


def body_bytes(part: dict[str, Any]) -> bytes:
    """A stored request/response body back to bytes."""
    body = part.get("body") or ""
    return base64.b64decode(body) if part.get("body_encoding") == "base64" else body.encode("utf-8", "surrogateescape")


def _decoded(headers: list[tuple[str, str]], raw: bytes, size: int) -> tuple[list[tuple[str, str]], bytes, bool]:
    """The answer as a client reads it: Content-Encoding undone (the shadow copies' one decoder) when the whole
    body is here; the flag says it stays encoded (cut, or undecodable)."""
    encoding = (_header(headers, "content-encoding") or "").strip().lower()
    if not encoding or encoding == "identity":
        return headers, raw, False
    plain = decoded(headers, raw) if size <= len(raw) else raw
    if plain is raw:
        return headers, raw, True
    return [(k, v) for k, v in headers if k.lower() not in ("content-encoding", "content-length")], plain, False


def capture(c: Captured, config: RecordConfig, redactor: StableRedactor,
            hits: set[str]) -> tuple[tuple[Any, ...], tuple[str, str], list[Any]]:
    """(the recordings row, the case key (feature, signature), the case row's values)."""
    headers = _pairs(c.headers)
    path = redactor.path(c.path, hits)
    req, shape = _body(c.body, c.body_size, _header(headers, "content-type"), redactor, hits)
    req["headers"] = [list(h) for h in redactor.headers(headers, hits)]
    resp_headers, resp_raw, encoded = _decoded(_pairs(c.response_headers), c.response_body, c.response_size)
    size = c.response_size if resp_raw is c.response_body else len(resp_raw)  # decoded: its own length
    resp, _ = _body(resp_raw, size, _header(resp_headers, "content-type"), redactor, hits, encoded)
    resp["status"] = c.status
    resp["headers"] = [list(h) for h in redactor.headers(resp_headers, hits)]
    keys = query_keys(c.path)
    sig = signature(c.method, c.route, keys, shape)
    request_text, response_text = _text(req), _text(resp)
    truncated = int(req["body_truncated"] or resp["body_truncated"])
    row = (c.feature, c.route, sig, c.ts, c.method, path, c.status, c.latency_ms, truncated,
           len(request_text) + len(response_text) + len(path), request_text, response_text)
    return row, (c.feature, sig), [c.method, c.route, _text(keys), shape, 1, c.ts, c.ts]


def _text(value: object) -> str:
    """JSON text to store: orjson (a third of the writer's CPU went to json.dumps), the standard library for
    what orjson refuses (a string with lone surrogates, from header bytes that are not UTF-8)."""
    try:
        return orjson.dumps(value).decode("utf-8")
    except TypeError:
        return json.dumps(value, ensure_ascii=False)
