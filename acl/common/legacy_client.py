"""Base HTTP client for the legacy monolith's JSON API — reusable by every context's adapter.

Why these rules: the legacy system is slow and flaky in ways the new services must survive.
- Short, explicit timeouts: a stuck legacy call must not hold a service worker.
- Retries only for idempotent methods (GET/HEAD/OPTIONS by default) on connection errors and 5xx: a
  retried POST could reserve stock twice.
- Tolerant reader: subclasses pick the few fields they need from the JSON (`field`) and ignore the rest,
  so additive legacy changes never break us.
- Legacy 4xx answers carry {"Success": false, "ErrorCode", "ErrorMessage"}; they surface as
  LegacyRejected with those values, so callers can map them to domain errors.
"""
from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import httpx

from acl.common.errors import TranslationError
from proxy.net import is_loopback

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class LegacyUnavailable(RuntimeError):
    """The legacy system did not answer usefully (network error, timeout, 5xx) after retries."""


class LegacyRejected(RuntimeError):
    """The legacy system answered 4xx; `code`/`message` come from its error envelope when present."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"legacy answered {status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message


def field(payload: Any, name: str, *, source: str = "legacy response") -> Any:
    """Tolerant read of one key: present → value; missing → TranslationError naming it."""
    if not isinstance(payload, Mapping) or name not in payload:
        raise TranslationError(name, None, f"missing from {source}")
    return payload[name]


class LegacyClient:
    """Thread-safe (one pooled httpx.Client) JSON client for the legacy API."""

    idempotent_methods = IDEMPOTENT_METHODS

    def __init__(self, base_url: str, *, timeout_s: float = 3.0, connect_timeout_s: float = 1.0,
                 retries: int = 2, backoff_s: float = 0.05, allow_remote: bool = False,
                 transport: httpx.BaseTransport | None = None, max_connections: int = 32) -> None:
        host = urlsplit(base_url).hostname or ""
        if not allow_remote and not is_loopback(host):
            raise ValueError(f"legacy base URL {base_url!r} is not a loopback address; the kit only targets "
                             "127.0.0.0/8 or ::1 unless allow_remote=True is passed explicitly")
        self.base_url = base_url.rstrip("/")
        self.retries = retries
        self.backoff_s = backoff_s
        self._client = httpx.Client(
            base_url=self.base_url, transport=transport,
            timeout=httpx.Timeout(timeout_s, connect=connect_timeout_s),
            limits=httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections),
            headers={"Accept": "application/json", "User-Agent": "strangler-acl/1"},
        )

    def request_json(self, method: str, path: str, *, params: Mapping[str, Any] | None = None,
                     json: Any = None, headers: Mapping[str, str] | None = None) -> Any:
        """Call legacy and return the decoded JSON body of a 2xx answer."""
        method = method.upper()
        attempts = 1 + (self.retries if method in self.idempotent_methods else 0)
        last_error = "no attempt"
        for attempt in range(attempts):
            if attempt:
                time.sleep(self.backoff_s * (2 ** (attempt - 1)))
            try:
                response = self._client.request(method, path, params=params, json=json, headers=headers)
            except httpx.HTTPError as exc:
                last_error = f"{type(exc).__name__}: {exc}"
                continue
            if response.status_code >= 500:
                last_error = f"HTTP {response.status_code}"
                continue
            if response.status_code >= 400:
                raise self._rejected(response)
            try:
                return response.json()
            except ValueError:
                raise LegacyUnavailable(f"{method} {path}: legacy answered non-JSON") from None
        raise LegacyUnavailable(f"{method} {path} failed after {attempts} attempt(s): {last_error}")

    def get_json(self, path: str, **params: Any) -> Any:
        return self.request_json("GET", path, params={k: v for k, v in params.items() if v is not None})

    @staticmethod
    def _rejected(response: httpx.Response) -> LegacyRejected:
        try:
            body = response.json()
        except ValueError:
            body = {}
        body = body if isinstance(body, Mapping) else {}
        return LegacyRejected(response.status_code, str(body.get("ErrorCode", f"HTTP_{response.status_code}")),
                              str(body.get("ErrorMessage", response.reason_phrase)))

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> LegacyClient:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()
