"""Normaliser rules: when two different values at a `parity.normalise` path count as the same.

"Ignore the field" also hides a real format change; a rule says what may differ and nothing more, and the
comparison still reports the pair as "equal after normalising (rule)" so a format change stays visible.

- instant: the same instant however written: ISO-8601 (`Z` == `+00:00`, any offset) or one of the declared
  legacy `instant_formats` (strptime); a value without a zone is read in `instant_zone`.
- number: equal as numbers, numeric strings included (1 == 1.0 == "1"); booleans are never numbers.
- case_insensitive: strings equal after casefold.
- null_is_empty: null == "".
- present: present on both sides, values may differ (ids and creation times two databases cannot share).
"""
from __future__ import annotations

import math
import zoneinfo
from datetime import datetime
from typing import Any

from proxy.table import NormaliseRule, ParityConfig


class ValueRules:
    """The value comparisons of one ParityConfig (formats and zone compiled once)."""

    def __init__(self, config: ParityConfig):
        self.formats = tuple(config.instant_formats)
        self.zone = zoneinfo.ZoneInfo(config.instant_zone)

    def equal(self, rule: NormaliseRule, ref: Any, cand: Any) -> bool:
        """True when `ref` and `cand` are the same value under `rule`."""
        if rule is NormaliseRule.PRESENT:
            return True
        if rule is NormaliseRule.NULL_IS_EMPTY:
            return ref in (None, "") and cand in (None, "") and not isinstance(ref, bool) \
                and not isinstance(cand, bool)
        if rule is NormaliseRule.CASE_INSENSITIVE:
            return isinstance(ref, str) and isinstance(cand, str) and ref.casefold() == cand.casefold()
        if rule is NormaliseRule.NUMBER:
            a, b = number(ref), number(cand)
            return a is not None and a == b
        when_ref, when_cand = self.instant(ref), self.instant(cand)
        return when_ref is not None and when_ref == when_cand

    def instant(self, value: Any) -> datetime | None:
        """An aware datetime, or None when the value is no instant in an accepted format."""
        if not isinstance(value, str) or not value.strip():
            return None
        text = value.strip()
        found = None
        try:
            found = datetime.fromisoformat(text)
        except ValueError:
            for fmt in self.formats:
                try:
                    found = datetime.strptime(text, fmt)  # noqa: DTZ007 - a zone-less legacy value: instant_zone below
                    break
                except ValueError:
                    continue
        if found is None:
            return None
        return found if found.tzinfo is not None else found.replace(tzinfo=self.zone)


def number(value: Any) -> float | None:
    """A finite number from a JSON number or a numeric string; None otherwise (booleans included)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            found = float(value.strip())
        except ValueError:
            return None
        return found if math.isfinite(found) else None
    return None


PROPOSABLE = (NormaliseRule.NUMBER, NormaliseRule.INSTANT, NormaliseRule.NULL_IS_EMPTY, NormaliseRule.CASE_INSENSITIVE)


def propose(pairs: list[tuple[Any, Any]], rules: ValueRules) -> NormaliseRule | None:
    """The first rule under which every (reference, candidate) pair is equal, or None. `present` is never
    proposed: saying values may differ is a judgement only the team can make."""
    if not pairs:
        return None
    for rule in PROPOSABLE:
        if all(rules.equal(rule, ref, cand) for ref, cand in pairs):
            return rule
    return None


__all__ = ["PROPOSABLE", "ValueRules", "number", "propose"]
