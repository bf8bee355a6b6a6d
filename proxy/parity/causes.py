"""Causes first: what kind of difference one comparison shows, decided before its fields.

A rejected token turns one answer into a 403 with an error envelope; listing that as `status`, an extra
`$.error` and two missing lists hides the one cause. So each comparison gets exactly one cause, checked in
this order, and every report groups by it and folds the field differences underneath:

    error         the candidate gave no answer (connection error, timeout) or a 5xx legacy did not give
    identity_rejected  the candidate refused (401/403) a request legacy served, with remote identity on; the
                  label says how the façade saw the caller: "user: 200 → 401" (resolved), "anonymous: …",
                  "failed: …" (the copy carried no identity): one finding for an auth problem
    status_class  the status class differs (2xx vs 4xx, 200 → 403)
    status        same class, another code (200 vs 201)
    content_type  the media type differs (application/json vs text/html)
    body          the bodies differ (field differences; a non-JSON body compared as text)
    headers       only allow-listed headers differ
    noise         differs only on fields legacy also varies on (legacy asked twice; see proxy/parity/recent.py)
    normalised    equal, but only after a normaliser rule (instant, number, ...): a format change stays visible
    equal         equal as compared (ignore rules applied)

Other reports reuse this grouping (the identity work adds identity resolved / anonymous / failed to it).
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class Cause(StrEnum):
    ERROR = "error"
    IDENTITY_REJECTED = "identity_rejected"
    STATUS_CLASS = "status_class"
    STATUS = "status"
    CONTENT_TYPE = "content_type"
    BODY = "body"
    HEADERS = "headers"
    NOISE = "noise"
    NORMALISED = "normalised"
    EQUAL = "equal"

    @property
    def differs(self) -> bool:
        """A cause that counts as a mismatch (normalised and equal do not)."""
        return self not in (Cause.NOISE, Cause.NORMALISED, Cause.EQUAL)


ORDER = tuple(Cause)  # report order: the most telling cause first


@dataclass(frozen=True, slots=True)
class Classified:
    """A comparison's cause and its label ("200 → 403", "application/json → text/html", "instant")."""

    cause: Cause
    label: str = ""

    @property
    def key(self) -> str:
        """The grouping key: cause plus label, e.g. "status_class:200 → 403"."""
        return f"{self.cause.value}:{self.label}" if self.label else self.cause.value

    def to_dict(self) -> dict[str, Any]:
        return {"cause": self.cause.value, "label": self.label}


def media_type(content_type: str | None) -> str:
    """`application/json; charset=utf-8` -> `application/json` ("" when absent)."""
    return (content_type or "").split(";", 1)[0].strip().lower()


def classify(reference_status: int | None, candidate_status: int | None, reference_type: str | None,
             candidate_type: str | None, differing: Iterable[str] = (), normalised_rules: Iterable[str] = (),
             error: str | None = None) -> Classified:
    """One cause for one comparison. `differing` are the differing field keys after ignore rules (status and
    header entries included), `normalised_rules` the normaliser rules that made values equal."""
    if error is not None or candidate_status is None:
        return Classified(Cause.ERROR, (error or "no answer")[:80])
    if candidate_status >= 500 and (reference_status is None or reference_status < 500):
        return Classified(Cause.ERROR, f"{reference_status} → {candidate_status}")
    if reference_status is not None and reference_status // 100 != candidate_status // 100:
        return Classified(Cause.STATUS_CLASS, f"{reference_status} → {candidate_status}")
    fields = set(differing)
    if reference_status is not None and reference_status != candidate_status:
        return Classified(Cause.STATUS, f"{reference_status} → {candidate_status}")
    ref_type, cand_type = media_type(reference_type), media_type(candidate_type)
    if ref_type != cand_type and (ref_type or cand_type):
        return Classified(Cause.CONTENT_TYPE, f"{ref_type or '(none)'} → {cand_type or '(none)'}")
    fields.discard("status")
    if any(not f.startswith("header:") for f in fields):
        return Classified(Cause.BODY)
    if fields:
        return Classified(Cause.HEADERS, ", ".join(sorted(f.removeprefix("header:") for f in fields)))
    rules = sorted(set(normalised_rules))
    if rules:
        return Classified(Cause.NORMALISED, ", ".join(rules))
    return Classified(Cause.EQUAL)


ERROR_KINDS = ("timeout", "connect", "protocol", "5xx")  # an error comparison's kind, first word of its label
TRANSIENT_ERRORS = frozenset({"timeout", "connect"})    # a busy or restarting machine, not the candidate's answer


def error_label(kind: str, upstream: str, detail: str = "") -> str:
    """An error comparison's label: kind first, then where — "timeout from catalog: ReadTimeout",
    "5xx from orders: 200 → 503" (a grouping key: no elapsed time in it)."""
    return f"{kind} from {upstream}" + (f": {detail}" if detail else "")


IDENTITY_STATES = ("user", "anonymous", "failed")  # how the façade saw the caller (proxy/addons/identity.py)


def identity_cause(found: Classified, identity: str, reference_status: int | None,
                   candidate_status: int | None) -> Classified:
    """With remote identity, a candidate 401/403 where legacy answered < 400 is `identity_rejected` (labelled by
    the identity state) instead of a status-class change: the service did not accept who the caller is."""
    if (found.cause is not Cause.STATUS_CLASS or candidate_status not in (401, 403) or reference_status is None
            or reference_status >= 400):
        return found
    return Classified(Cause.IDENTITY_REJECTED, f"{identity}: {reference_status} → {candidate_status}")


def describe(cause: Cause | str, label: str, count: int) -> str:
    """A group's headline: "200 → 403 on 117 requests", "body differs on 3 requests"."""
    cause = Cause(cause)
    what = {Cause.ERROR: f"candidate error ({label})" if label else "candidate error",
            Cause.IDENTITY_REJECTED: f"identity rejected ({label})",
            Cause.STATUS_CLASS: label, Cause.STATUS: label,
            Cause.CONTENT_TYPE: f"content type {label}", Cause.BODY: "body differs",
            Cause.HEADERS: f"headers differ ({label})", Cause.NOISE: "differs only on noise fields",
            Cause.NORMALISED: f"equal after normalising ({label})", Cause.EQUAL: "equal"}[cause]
    return f"{what} on {count} request{'s' if count != 1 else ''}"


__all__ = ["ERROR_KINDS", "IDENTITY_STATES", "ORDER", "TRANSIENT_ERRORS", "Cause", "Classified", "classify",
           "describe", "error_label", "identity_cause", "media_type"]
