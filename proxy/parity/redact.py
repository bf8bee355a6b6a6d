"""Redaction: the kit's one rule for what of a request or response may reach disk or an exported file.

Secrets are never stored, but never dropped silently either: a secret header keeps its NAME and gets a
named placeholder read from the environment at replay time (`Authorization: ${STRANGLER_REPLAY_AUTHORIZATION}`),
so a repro says which headers it needs and that the mismatch may depend on them. Secret headers are
Authorization, Cookie, Proxy-Authorization, Set-Cookie and a feature's `parity.secret_headers`. The kit's own
signing headers (X-Strangler-*) and hop-by-hop headers are not replayable and are dropped, names kept.

Used by compare_exchange (before anything is stored) and by export (again, by name, so an example stored by
an older version never leaks). Recording/replay and identity extend this module rather than writing another.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from urllib.parse import unquote_plus

SECRET_HEADERS = frozenset({"authorization", "cookie", "proxy-authorization", "set-cookie"})
PLACEHOLDER_PREFIX = "STRANGLER_REPLAY_"
_NOT_REPLAYED = frozenset({"host", "content-length", "connection", "transfer-encoding", "accept-encoding",
                           "keep-alive", "te", "upgrade", "proxy-connection"})
_KIT_PREFIX = "x-strangler-"
_PLACEHOLDER = re.compile(r"^\$\{(" + PLACEHOLDER_PREFIX + r"[A-Z0-9_]+)\}$")


def placeholder_env(name: str) -> str:
    """The environment variable a redacted header is read from: Authorization -> STRANGLER_REPLAY_AUTHORIZATION."""
    return PLACEHOLDER_PREFIX + re.sub(r"[^A-Z0-9]+", "_", name.upper()).strip("_")


def placeholder(name: str) -> str:
    return "${" + placeholder_env(name) + "}"


def placeholder_of(value: str) -> str | None:
    """The environment variable named by a stored placeholder value, or None for a real value."""
    m = _PLACEHOLDER.match(value)
    return m.group(1) if m else None


@dataclass(frozen=True, slots=True)
class Redactor:
    """Which headers are secrets (the built-in ones plus configured names, case-insensitive)."""

    extra: frozenset[str] = frozenset()

    @classmethod
    def of(cls, names: Iterable[str] = ()) -> Redactor:
        return cls(frozenset(n.lower() for n in names))

    def is_secret(self, name: str) -> bool:
        low = name.lower()
        return low in SECRET_HEADERS or low in self.extra

    def headers(self, headers: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
        """Headers fit to store: secrets become placeholders, the kit's signing headers are dropped."""
        out = []
        for name, value in headers:
            if name.lower().startswith(_KIT_PREFIX):
                continue
            out.append((name, placeholder(name) if self.is_secret(name) else value))
        return out

    def replayable(self, headers: Iterable[tuple[str, str]]) -> tuple[dict[str, str], dict[str, str]]:
        """(headers to replay, {header name: environment variable} of the redacted ones). Secrets are
        placeholders whatever the stored value (an example from an older version may hold a real one)."""
        replay: dict[str, str] = {}
        redacted: dict[str, str] = {}
        for name, value in headers:
            low = name.lower()
            if low in _NOT_REPLAYED or low.startswith(_KIT_PREFIX):
                continue
            if self.is_secret(name) or placeholder_of(value):
                redacted[name] = placeholder_of(value) or placeholder_env(name)
                value = "${" + redacted[name] + "}"
            replay[name] = value
        return replay, redacted


_TAG_SEP = "__"  # placeholder_env never yields two underscores in a row: the tag is always what follows them
_ANY_PLACEHOLDER = re.compile(r"\$\{(" + PLACEHOLDER_PREFIX + r"[A-Z0-9_]+)\}")


@dataclass(frozen=True, slots=True)
class StableRedactor:
    """Recording's redaction (issue 22): besides the secret headers, configured headers, query parameters
    and JSON body paths, each value replaced by a placeholder that is STABLE within one recording — an HMAC
    of (name, value) under the recording's salt — so the requests of one session keep one placeholder
    (`Cookie: ${STRANGLER_REPLAY_COOKIE__3F09A1C2}`) and stay correlated, while nothing of the value is kept.
    Replay reads `STRANGLER_REPLAY_COOKIE__3F09A1C2`, else the name without its tag (`restore`). Every call
    adds the configured rules it matched to `hits` ("header:X", "query:x", "json:$.x"): a rule that never
    matches is warned about."""

    salt: bytes
    secret: Redactor
    query: frozenset[str] = frozenset()
    json_paths: tuple[str, ...] = ()

    @classmethod
    def of(cls, salt: bytes, headers: Iterable[str] = (), query: Iterable[str] = (),
           json_paths: Iterable[str] = ()) -> StableRedactor:
        return cls(salt, Redactor.of(headers), frozenset(query), tuple(json_paths))

    def token(self, name: str, value: str) -> str:
        tag = hmac.new(self.salt, f"{name.lower()}\0{value}".encode("utf-8", "surrogateescape"),
                       hashlib.sha256).hexdigest()[:8].upper()
        return "${" + placeholder_env(name) + _TAG_SEP + tag + "}"

    def headers(self, headers: Iterable[tuple[str, str]], hits: set[str]) -> list[tuple[str, str]]:
        out = []
        for name, value in headers:
            low = name.lower()
            if low.startswith(_KIT_PREFIX):
                continue
            if low in self.secret.extra:
                hits.add("header:" + low)
            out.append((name, self.token(name, value) if self.secret.is_secret(name) else value))
        return out

    def path(self, path: str, hits: set[str]) -> str:
        """The request path with the configured query parameters' values replaced (names and order kept)."""
        base, sep, query = path.partition("?")
        if not sep or not self.query:
            return path
        parts = []
        for item in query.split("&"):
            key, eq, value = item.partition("=")
            name = unquote_plus(key)
            if eq and name in self.query:
                hits.add("query:" + name)
                value = self.token(name, unquote_plus(value))
            parts.append(key + eq + value)
        return base + "?" + "&".join(parts)

    def json(self, value: object, hits: set[str]) -> object:
        """A parsed JSON body with the values at the configured paths replaced (strings, numbers, subtrees)."""
        if not self.json_paths:
            return value
        from proxy.parity.paths import PathSet

        paths = PathSet(self.json_paths)

        def walk(node: object, state: frozenset[tuple[int, int]], key: str) -> object:
            if paths.accepts(state):
                for i in paths.accepted(state):
                    hits.add("json:" + paths.patterns[i])
                return self.token(key or "body", node if isinstance(node, str) else json.dumps(node, sort_keys=True))
            if isinstance(node, dict):
                return {k: walk(v, paths.step(state, k), k) for k, v in node.items()}
            if isinstance(node, list):
                return [walk(v, paths.step(state, i), key) for i, v in enumerate(node)]
            return node

        return walk(value, paths.start, "")


def restore(text: str, environ: Mapping[str, str], quote: Callable[[str], str] = str) -> tuple[str, list[str]]:
    """`text` with every ${STRANGLER_REPLAY_…} placeholder replaced by its variable's value (`quote`d: URL- or
    JSON-escaped), the tagged name first, else the name without its tag; and the variables missing (the
    tagged name is reported: it is what the recording says)."""
    missing: list[str] = []

    def fill(m: re.Match[str]) -> str:
        env = m.group(1)
        value = environ.get(env) or environ.get(env.split(_TAG_SEP, 1)[0])
        if not value:
            missing.append(env)
            return m.group(0)
        return quote(value)

    return _ANY_PLACEHOLDER.sub(fill, text), missing


def header_names(headers: Iterable[tuple[str, str]]) -> list[str]:
    """The request header names present, lower-cased, sorted (names only, never values)."""
    return sorted({name.lower() for name, _ in headers})


__all__ = ["PLACEHOLDER_PREFIX", "SECRET_HEADERS", "Redactor", "StableRedactor", "header_names", "placeholder",
           "placeholder_env", "placeholder_of", "restore"]
