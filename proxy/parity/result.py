"""One compared exchange, as the façade's shadow addon and the Locust parity user hand it to the store.

`compare_exchange` is the single place that turns (request, reference response, candidate response,
optional second reference response) into a ComparisonResult, so every front end counts the same way: it
classifies the cause first (proxy/parity/causes.py), keeps the differences at ignored paths apart (a rule
change re-evaluates them) and redacts secrets before anything can be stored (proxy/parity/redact.py).
"""
from __future__ import annotations

import functools
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from proxy.parity.causes import Classified, classify
from proxy.parity.normalise import Difference, Normaliser, Response
from proxy.parity.redact import Redactor, header_names, placeholder_of


@dataclass(frozen=True, slots=True)
class RequestInfo:
    """The request both sides received (path includes the query string)."""

    method: str
    path: str
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""

    @classmethod
    def of(cls, method: str, path: str, headers: Mapping[str, str] | Iterable[tuple[str, str]] = (),
           body: bytes | str | None = b"") -> RequestInfo:
        items = headers.items() if isinstance(headers, Mapping) else headers
        raw = (body.encode() if isinstance(body, str) else bytes(body or b""))
        return cls(method.upper(), path, tuple((str(k), str(v)) for k, v in items), raw)

    def to_dict(self) -> dict[str, Any]:
        return {"method": self.method, "path": self.path, "headers": [list(h) for h in self.headers],
                "header_names": header_names(self.headers),
                "redacted": sorted({k for k, v in self.headers if placeholder_of(v)}),
                "body": self.body.decode("utf-8", errors="replace")}


@dataclass(slots=True)
class ComparisonResult:
    """Reference (legacy) vs candidate for one request, plus the optional noise sample (reference again).

    `noise` is None when no noise sample was taken for this request; an empty list means one was taken and
    the two reference answers were identical. `error` is set when the candidate could not be asked at all.
    """

    feature: str
    route: str                              # the route template, e.g. /api/items/{id}
    request: RequestInfo
    reference: Response | None
    candidate: Response | None
    differences: list[Difference] = field(default_factory=list)
    noise: list[Difference] | None = None
    error: str | None = None
    latency_ms: float | None = None         # candidate's
    reference_url: str = ""                 # base URLs, so a mismatch can be replayed
    candidate_url: str = ""
    ts: float = field(default_factory=time.time)
    cause: Classified | None = None                              # set by compare_exchange; see classified()
    ignored: list[Difference] = field(default_factory=list)     # differences at ignored paths
    noise_ignored: list[Difference] = field(default_factory=list)
    normalised: list[Difference] = field(default_factory=list)  # equal only after a normaliser rule
    rules_matched: set[str] = field(default_factory=set)        # normalise paths that matched a location

    @property
    def is_error(self) -> bool:
        """The candidate failed: no answer, or a 5xx of its own (a 5xx legacy also gave is not its fault)."""
        if self.error is not None or self.candidate is None:
            return True
        return self.candidate.status >= 500 and (self.reference is None or self.reference.status < 500)

    def classified(self) -> Classified:
        """The comparison's cause (computed from the answers when built without compare_exchange)."""
        if self.cause is None:
            ref, cand = self.reference, self.candidate
            self.cause = classify(ref.status if ref else None, cand.status if cand else None,
                                  ref.header("content-type") if ref else None,
                                  cand.header("content-type") if cand else None,
                                  (d.field for d in self.differences), (d.rule for d in self.normalised), self.error)
        return self.cause

    def differing_fields(self) -> set[str]:
        return {d.field for d in self.differences}

    def noise_fields(self) -> set[str]:
        return {d.field for d in self.noise or ()}

    def real_differences(self, noisy_fields: Iterable[str] = ()) -> list[Difference]:
        """Differences not explained as noise: neither differing legacy-vs-legacy in this very request nor a
        field already known to be noisy (see proxy.parity.noise)."""
        skip = self.noise_fields() | set(noisy_fields)
        return [d for d in self.differences if d.field not in skip]


def compare_exchange(normaliser: Normaliser, *, feature: str, route: str, request: RequestInfo,
                     reference: Response | None, candidate: Response | None,
                     reference_again: Response | None = None, error: str | None = None,
                     latency_ms: float | None = None, reference_url: str = "",
                     candidate_url: str = "") -> ComparisonResult:
    """Compare, classify and package; with `reference_again` also records the legacy-vs-legacy noise."""
    redactor = _redactor(tuple(normaliser.config.secret_headers))
    request = RequestInfo(request.method, request.path, tuple(redactor.headers(request.headers)), request.body)
    found = noise = None
    if reference is not None and candidate is not None and error is None:
        found = normaliser.inspect(reference, candidate)
    if reference is not None and reference_again is not None:
        noise = normaliser.inspect(reference, reference_again)
    differences = found.differences if found else []
    cause = classify(reference.status if reference else None, candidate.status if candidate else None,
                     reference.header("content-type") if reference else None,
                     candidate.header("content-type") if candidate else None,
                     (d.field for d in differences), (d.rule for d in found.normalised) if found else (), error)
    return ComparisonResult(feature=feature, route=route, request=request, reference=_redacted(reference, redactor),
                            candidate=_redacted(candidate, redactor), differences=differences,
                            noise=noise.differences if noise else None, error=error, latency_ms=latency_ms,
                            reference_url=reference_url, candidate_url=candidate_url, cause=cause,
                            ignored=found.ignored if found else [], noise_ignored=noise.ignored if noise else [],
                            normalised=found.normalised if found else [],
                            rules_matched=found.rules_matched if found else set())


@functools.lru_cache(maxsize=64)
def _redactor(secret_headers: tuple[str, ...]) -> Redactor:
    return Redactor.of(secret_headers)


def _redacted(response: Response | None, redactor: Redactor) -> Response | None:
    """The response with secret headers (Set-Cookie, ...) replaced by placeholders, compared already."""
    if response is None or not any(redactor.is_secret(k) for k, _ in response.headers):
        return response
    return Response(response.status, tuple(redactor.headers(response.headers)), response.body)
