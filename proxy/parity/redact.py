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

import re
from collections.abc import Iterable
from dataclasses import dataclass

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


def header_names(headers: Iterable[tuple[str, str]]) -> list[str]:
    """The request header names present, lower-cased, sorted (names only, never values)."""
    return sorted({name.lower() for name, _ in headers})


__all__ = ["PLACEHOLDER_PREFIX", "SECRET_HEADERS", "Redactor", "header_names", "placeholder", "placeholder_env",
           "placeholder_of"]
