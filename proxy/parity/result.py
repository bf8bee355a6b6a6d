"""One compared exchange, as the façade's shadow addon and the Locust parity user hand it to the store.

`compare_exchange` is the single place that turns (request, reference response, candidate response,
optional second reference response) into a ComparisonResult, so every front end counts the same way.
"""
from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from proxy.parity.normalise import Difference, Normaliser, Response


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

    @property
    def is_error(self) -> bool:
        """The candidate failed: no answer, or a 5xx of its own (a 5xx legacy also gave is not its fault)."""
        if self.error is not None or self.candidate is None:
            return True
        return self.candidate.status >= 500 and (self.reference is None or self.reference.status < 500)

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
    """Compare and package; with `reference_again` also records the legacy-vs-legacy noise."""
    differences: list[Difference] = []
    if reference is not None and candidate is not None and error is None:
        differences = normaliser.compare(reference, candidate)
    noise = None
    if reference is not None and reference_again is not None:
        noise = normaliser.compare(reference, reference_again)
    return ComparisonResult(feature=feature, route=route, request=request, reference=reference,
                            candidate=candidate, differences=differences, noise=noise, error=error,
                            latency_ms=latency_ms, reference_url=reference_url, candidate_url=candidate_url)
