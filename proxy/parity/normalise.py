"""The one normaliser: compare two HTTP responses and list their differences (façade, Locust, reports).

Rules (from a feature's ParityConfig, compiled once per config):
- status codes must match (kind "status");
- only allow-listed headers are compared, names case-insensitive, values exactly (kind "header");
- JSON bodies are compared as data: key order is irrelevant; `ignore` paths (wildcards, `..name`) are
  skipped; `unordered` lists are compared as multisets; numbers are equal within the tolerance;
- `normalise` paths compare values by a rule (proxy/parity/rules.py); a pair equal only under its rule is
  not a difference but is listed in `Comparison.normalised` ("equal after normalising (rule)");
- differences at ignored paths are kept apart in `Comparison.ignored`, so a report can re-apply the rules
  in force (adding or removing an ignore rule changes verdicts at once);
- other bodies (not JSON on either side) are compared as text, never an error.

Decisions worth knowing:
- A numeric string is NOT equal to a number ("12.50" vs 12.5 is kind "type"): the wire contract differs
  and clients parsing it would break. Opt in with `numeric_strings=True` (then "12.50" == "12.5" == 12.5).
- JSON does not distinguish 25 from 25.0, so neither do we; booleans are never numbers.
- `ParityConfig.numeric_tolerance` is an ABSOLUTE tolerance; `relative_tolerance` (constructor) adds a
  relative one. Two numbers are equal when either tolerance holds.
"""
from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from proxy.parity import splice
from proxy.parity.paths import EMPTY, PathSet, Segment, State, field_key, format_path
from proxy.parity.rules import ValueRules
from proxy.table import NormaliseRule, ParityConfig

KINDS = ("changed", "missing", "extra", "type", "status", "header", "normalised")
STATUS_PATH = "status"
HEADER_PREFIX = "header:"
_NO_JSON = object()
_TEXT_PREVIEW = 2000


@dataclass(frozen=True, slots=True)
class Difference:
    """One difference. `path` is exact ($.Products[3].UnitPrice); `field` generalises indices ([*])."""

    path: str
    kind: str          # one of KINDS: changed | missing (only in reference) | extra (only in candidate) | type ...
    reference: Any
    candidate: Any
    field: str
    rule: str = ""     # kind "normalised": the normaliser rule under which the two values are equal

    def to_dict(self) -> dict[str, Any]:
        out = {"path": self.path, "field": self.field, "kind": self.kind,
               "reference": self.reference, "candidate": self.candidate}
        return {**out, "rule": self.rule} if self.rule else out


@dataclass(slots=True)
class Comparison:
    """Everything one comparison found: differences (rules applied), differences at ignored paths, pairs
    equal only after a normaliser rule, and the normalise paths that matched any location."""

    differences: list[Difference] = field(default_factory=list)
    ignored: list[Difference] = field(default_factory=list)
    normalised: list[Difference] = field(default_factory=list)
    rules_matched: set[str] = field(default_factory=set)
    limit: int = 200
    exact_eq: bool = False  # Python's == is JSON equality here (no boolean where the bodies differ)

    def add(self, difference: Difference) -> None:
        if len(self.differences) < self.limit:
            self.differences.append(difference)

    def full(self) -> bool:
        return len(self.differences) >= self.limit

    def ignoring(self) -> Comparison:
        """A sink for an ignored subtree: its differences land in `ignored`, its normalisations nowhere."""
        return Comparison(self.ignored, self.ignored, [], self.rules_matched, self.limit, self.exact_eq)


@dataclass(frozen=True, slots=True)
class Response:
    """What we compare of an HTTP response. Header names are stored lower-cased."""

    status: int
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""

    @classmethod
    def of(cls, status: int, headers: Mapping[str, str] | Iterable[tuple[str, str]] = (),
           body: bytes | str = b"") -> Response:
        items = headers.items() if isinstance(headers, Mapping) else headers
        raw = body.encode() if isinstance(body, str) else bytes(body)
        return cls(int(status), tuple((str(k).lower(), str(v)) for k, v in items), raw)

    def header(self, name: str) -> str | None:
        """All values of a header joined by ', ' (HTTP's rule), or None when absent."""
        name = name.lower()
        values = [v for k, v in self.headers if k == name]
        return ", ".join(values) if values else None

    def to_dict(self) -> dict[str, Any]:
        return {"status": self.status, "headers": [list(h) for h in self.headers],
                "body": self.body.decode("utf-8", errors="replace")}


class Normaliser:
    """Compiled comparison rules for one ParityConfig. Immutable after construction; thread-safe."""

    def __init__(self, config: ParityConfig | None = None, *, relative_tolerance: float = 0.0,
                 numeric_strings: bool = False, max_differences: int = 200, prune: bool = True):
        config = config or ParityConfig()
        self.prune = prune  # False: walk every node, equal or not (the reference the pruned walk is tested against)
        self.config = config
        self.ignore = PathSet(config.ignore)
        self.unordered = PathSet(config.unordered)
        self.absolute_tolerance = float(config.numeric_tolerance)
        self.relative_tolerance = float(relative_tolerance)
        self.numeric_strings = numeric_strings
        self.headers = tuple(dict.fromkeys(h.lower() for h in config.headers))
        self.max_differences = max_differences
        self.rule_paths = tuple(config.normalise)
        self.rules = tuple(config.normalise.values())
        self.normalise = PathSet(self.rule_paths)
        self.values = ValueRules(config)
        # two bodies differing in one string's text: answered from the first such pair's full comparison
        # (proxy/parity/splice.py); not under rules that pair or report whole values, nor in the reference walk
        self._splices = splice.SpliceMemo() if prune and not self.unordered and \
            NormaliseRule.PRESENT not in self.rules else None

    # ------------------------------------------------------------------------------------------ public
    def compare(self, reference: Response, candidate: Response) -> list[Difference]:
        """Differences of `candidate` against `reference`, in a stable order."""
        return self.inspect(reference, candidate).differences

    def inspect(self, reference: Response, candidate: Response) -> Comparison:
        """The full comparison: differences, ignored differences, normalised pairs."""
        out = Comparison(limit=self.max_differences)
        if reference.status != candidate.status:
            out.add(Difference(STATUS_PATH, "status", reference.status, candidate.status, STATUS_PATH))
        for name in self.headers:
            ref, cand = reference.header(name), candidate.header(name)
            if ref != cand:
                path = HEADER_PREFIX + name
                out.add(Difference(path, "header", ref, cand, path))
        self._bodies(reference, candidate, out)
        return out

    def compare_bodies(self, reference: Response, candidate: Response) -> list[Difference]:
        out = Comparison(limit=self.max_differences)
        self._bodies(reference, candidate, out)
        return out.differences

    def _bodies(self, reference: Response, candidate: Response, out: Comparison) -> None:
        if reference.body == candidate.body and not self.normalise:
            return
        site = None
        if self._splices is not None and not (out.differences or out.ignored or out.normalised) \
                and reference.body != candidate.body:
            frame, site = self._splices.find(reference.body, candidate.body)
            if frame is not None and site is not None and self._spliced(frame, site, reference.body,
                                                                        candidate.body, out):
                return
        self._parsed_bodies(reference, candidate, out)
        if site is not None:
            self._learn(site, reference, candidate, out)

    def _spliced(self, frame: splice.Frame, site: splice.Site, ref_body: bytes, cand_body: bytes,
                 out: Comparison) -> bool:
        """The comparison of two bodies in a learned frame: its one string leaf compared as the walk would."""
        pair = splice.values(ref_body, cand_body, site)
        if pair is None:
            return False
        ref, cand = pair
        out.rules_matched.update(frame.rules_matched)
        sink = out.ignoring() if frame.ignored else out
        rule = frame.rule
        if rule is not None and ref != cand and self.values.equal(rule, ref, cand):
            sink.normalised.append(Difference(format_path(frame.path), "normalised", ref, cand,
                                              field_key(frame.path), rule.value))
        else:
            self._leaf(ref, cand, frame.path, sink)
        return True

    def _learn(self, site: splice.Site, reference: Response, candidate: Response, out: Comparison) -> None:
        """Keep the frame of a pair the bytes say differ in one string when the full comparison just made agrees:
        the frame, applied to this very pair, must give exactly what the walk gave."""
        if len(out.differences) + len(out.ignored) + len(out.normalised) != 1:
            return
        ref, cand = _json_or_missing(reference), _json_or_missing(candidate)
        if ref is _NO_JSON or cand is _NO_JSON or (path := splice.locate(ref, cand)) is None:
            return
        st, ignored = self._start, self.ignore.accepts(self.ignore.start)
        for key in path:
            st = self._step(st, key)
            ignored = ignored or self._ignored(st[0])
        found = self.normalise.accepted(st[2]) if st[2] else ()
        rule = self.rules[min(found)] if found else None
        frame = splice.Frame(reference.body[:site.start], reference.body[site.ref_end:], path, ignored, rule,
                             frozenset(out.rules_matched))
        again = Comparison(limit=out.limit)
        if not self._spliced(frame, site, reference.body, candidate.body, again):
            return
        memo = self._splices
        if memo is not None and (again.differences, again.ignored, again.normalised, again.rules_matched) == \
                (out.differences, out.ignored, out.normalised, out.rules_matched):
            memo.learn(frame, site.key(reference.body))

    def _parsed_bodies(self, reference: Response, candidate: Response, out: Comparison) -> None:
        ref, cand = _json_or_missing(reference), _json_or_missing(candidate)
        if ref is _NO_JSON and cand is _NO_JSON:
            if reference.body != candidate.body:
                self._sink(out).add(Difference("$", "changed", _text(reference.body), _text(candidate.body), "$"))
            return
        if ref is _NO_JSON or cand is _NO_JSON:  # the JSON side is reported whole: exact over all of it
            ref_v = _text(reference.body) if ref is _NO_JSON else _exact(reference, ref, _long_digits(reference.body))
            cand_v = _text(candidate.body) if cand is _NO_JSON else _exact(candidate, cand,
                                                                           _long_digits(candidate.body))
            self._sink(out).add(Difference("$", "type", ref_v, cand_v, "$"))
            return
        # Only the bodies from where they first differ can hold a difference, or a value reported in one
        # (everything before is the same text at the same JSON path in both): check just that part for what
        # orjson and Python's == get wrong — an int over 64 bits, a boolean where the other side has a number.
        start = self._differing_from(reference.body, candidate.body)
        ref_tail, cand_tail = reference.body[start:], candidate.body[start:]
        big = _long_digits(ref_tail) or _long_digits(cand_tail)
        ref, cand = _exact(reference, ref, big), _exact(candidate, cand, big)
        out.exact_eq = not (b"true" in ref_tail or b"false" in ref_tail or b"true" in cand_tail
                            or b"false" in cand_tail)
        sink = self._sink(out)
        if self.prune and reference.body != candidate.body:  # the bodies differ: their == would be wasted
            if not sink.full():  # as _walk's first check
                self._node(ref, cand, (), self._start, sink)
        else:
            self._walk(ref, cand, (), self._start, sink)

    def _sink(self, out: Comparison) -> Comparison:
        return out.ignoring() if self.ignore.accepts(self.ignore.start) else out  # "$" ignores the whole body

    def _differing_from(self, ref: bytes, cand: bytes) -> int:
        """Where the part of two bodies that can hold a difference starts: 18 bytes before their first differing
        byte (a 19-digit number or a boolean may end there). 0 — all of them — under an unordered rule (its
        leftovers are paired by canonical form, not place) or a `present` rule (it reports whole values)."""
        if not self.prune or self.unordered or NormaliseRule.PRESENT in self.rules:
            return 0
        p = splice.common_prefix(ref, cand)
        while p and 0x30 <= ref[p - 1] <= 0x39:  # a number both spell alike up to here, one continues with
            p -= 1                              # '.', 'e' or 'E': its digits belong in the tail, all of them
        return max(0, p - 18)

    def compare_json(self, reference: Any, candidate: Any) -> list[Difference]:
        """Differences between two decoded JSON values."""
        return self.inspect_json(reference, candidate).differences

    def inspect_json(self, reference: Any, candidate: Any) -> Comparison:
        out = Comparison(limit=self.max_differences)
        self._walk(reference, candidate, (), self._start, out)
        return out

    @property
    def _start(self) -> tuple[State, State, State]:
        return self.ignore.start, self.unordered.start, self.normalise.start

    def _step(self, st: tuple[State, State, State], key: Segment) -> tuple[State, State, State]:
        ign, uno, nrm = st  # most locations are reached by no rule at all: skip the calls
        return (self.ignore.step(ign, key) if ign else EMPTY, self.unordered.step(uno, key) if uno else EMPTY,
                self.normalise.step(nrm, key) if nrm else EMPTY)

    def _ignored(self, state: State) -> bool:
        return bool(state) and self.ignore.accepts(state)

    def _rule(self, state: State, out: Comparison) -> NormaliseRule | None:
        """The normaliser rule at this location (the first declared wins), noting the path as matched."""
        found = self.normalise.accepted(state)
        if not found:
            return None
        first = min(found)
        out.rules_matched.update(self.rule_paths[i] for i in found)
        return self.rules[first]

    def canonical(self, value: Any) -> str:
        """Canonical JSON text of a value under these rules (ignored paths dropped, unordered lists sorted)."""
        return self._canonical(value, self.ignore.start, self.unordered.start)

    # ------------------------------------------------------------------------------------------ walking
    def _walk(self, ref: Any, cand: Any, path: tuple[Segment, ...], st: tuple[State, State, State],
              out: Comparison) -> None:
        if out.full():
            return
        if self.prune and _identical(ref, cand, out.exact_eq):
            # Equal values hold no difference, no ignored difference and no normalised pair (a rule is a
            # function of the value at its path and only applies where values differ): only which normalise
            # paths match a location is left to note, by their shape alone.
            if st[2]:
                self._mark(ref, st, out)
            return
        self._node(ref, cand, path, st, out)

    def _node(self, ref: Any, cand: Any, path: tuple[Segment, ...], st: tuple[State, State, State],
              out: Comparison) -> None:
        rule = self._rule(st[2], out) if st[2] else None
        if rule is not None and ref != cand and self.values.equal(rule, ref, cand):
            out.normalised.append(Difference(format_path(path), "normalised", ref, cand, field_key(path), rule.value))
            return
        if isinstance(ref, dict) and isinstance(cand, dict):
            for key in [*ref, *(k for k in cand if k not in ref)]:
                child, child_path = self._step(st, key), (*path, key)
                sink = out.ignoring() if self._ignored(child[0]) else out
                if key not in cand:
                    sink.add(_diff(child_path, "missing", ref[key], None))
                elif key not in ref:
                    sink.add(_diff(child_path, "extra", None, cand[key]))
                elif sink is out or ref[key] != cand[key]:
                    self._walk(ref[key], cand[key], child_path, child, sink)
            return
        if isinstance(ref, list) and isinstance(cand, list):
            if st[1] and self.unordered.accepts(st[1]):
                self._walk_unordered(ref, cand, path, st, out)
            else:
                self._walk_ordered(ref, cand, path, st, out)
            return
        self._leaf(ref, cand, path, out)

    def _mark(self, value: Any, st: tuple[State, State, State], out: Comparison) -> None:
        """The normalise paths the full walk of an equal subtree would note in `rules_matched`: the
        locations it visits (not ignored children, not the elements of an unordered list: they cancel out
        whole) that a normalise path matches. Stops where no normalise path reaches or all have matched."""
        if out.full() or len(out.rules_matched) == len(self.rule_paths):
            return
        self._rule(st[2], out)
        if isinstance(value, dict):
            items: Iterable[tuple[Segment, Any]] = value.items()
        elif isinstance(value, list) and not (st[1] and self.unordered.accepts(st[1])):
            items = enumerate(value)
        else:
            return
        for key, item in items:
            child = self._step(st, key)
            if child[2] and not self._ignored(child[0]):
                self._mark(item, child, out)

    def _walk_ordered(self, ref: list[Any], cand: list[Any], path: tuple[Segment, ...], st: tuple[State, State, State],
                      out: Comparison) -> None:
        for i in range(max(len(ref), len(cand))):
            child = self._step(st, i)
            sink = out.ignoring() if self._ignored(child[0]) else out
            if i >= len(cand):
                sink.add(_diff((*path, i), "missing", ref[i], None))
            elif i >= len(ref):
                sink.add(_diff((*path, i), "extra", None, cand[i]))
            elif sink is out or ref[i] != cand[i]:
                self._walk(ref[i], cand[i], (*path, i), child, sink)

    def _walk_unordered(self, ref: list[Any], cand: list[Any], path: tuple[Segment, ...],
                        st: tuple[State, State, State], out: Comparison) -> None:
        """Multiset comparison: equal elements (canonical form) cancel out; leftovers are paired in sorted
        order and compared field by field, so a changed element reports its changed fields, not the list."""
        def keyed(items: list[Any]) -> list[tuple[str, int]]:
            return [(self._canonical(v, *self._step(st, i)[:2]), i) for i, v in enumerate(items)]

        ref_k, cand_k = keyed(ref), keyed(cand)
        common = Counter(k for k, _ in ref_k) & Counter(k for k, _ in cand_k)
        left_ref, left_cand = _leftovers(ref_k, common), _leftovers(cand_k, common)
        for (_, ri), (_, ci) in zip(left_ref, left_cand, strict=False):  # the longer side's rest: below
            self._walk(ref[ri], cand[ci], (*path, ri), self._step(st, ri), out)
        for _, ri in left_ref[len(left_cand):]:
            out.add(_diff((*path, ri), "missing", ref[ri], None))
        for _, ci in left_cand[len(left_ref):]:
            out.add(_diff((*path, ci), "extra", None, cand[ci]))

    def _leaf(self, ref: Any, cand: Any, path: tuple[Segment, ...], out: Comparison) -> None:
        if type(ref) is type(cand) and ref == cand:
            return
        ref_n, cand_n = self._number(ref), self._number(cand)
        if ref_n is not None and cand_n is not None:
            if not self._numbers_equal(ref_n, cand_n):
                out.add(_diff(path, "changed", ref, cand))
            return
        if _type_name(ref) != _type_name(cand):
            out.add(_diff(path, "type", ref, cand))
        elif ref != cand:
            out.add(_diff(path, "changed", ref, cand))

    def _number(self, value: Any) -> float | int | None:
        if isinstance(value, bool):
            return None
        if isinstance(value, (int, float)):
            return value
        if self.numeric_strings and isinstance(value, str):
            try:
                number = float(value)
            except ValueError:
                return None
            return number if math.isfinite(number) else None
        return None

    def _numbers_equal(self, a: float, b: float) -> bool:
        if a == b:
            return True
        gap = abs(a - b)
        return gap <= self.absolute_tolerance or gap <= self.relative_tolerance * max(abs(a), abs(b))

    def _canonical(self, value: Any, ign: State, uno: State) -> str:
        return json.dumps(self._pruned(value, ign, uno), sort_keys=True, separators=(",", ":"),
                          ensure_ascii=False)

    def _pruned(self, value: Any, ign: State, uno: State) -> Any:
        """The value with ignored paths removed and unordered lists sorted (for canonical keys)."""
        if isinstance(value, dict):
            out = {}
            for key, item in value.items():
                child_ign = self.ignore.step(ign, key)
                if child_ign and self.ignore.accepts(child_ign):
                    continue
                out[key] = self._pruned(item, child_ign, self.unordered.step(uno, key))
            return out
        if isinstance(value, list):
            items = []
            for i, item in enumerate(value):
                child_ign = self.ignore.step(ign, i)
                if child_ign and self.ignore.accepts(child_ign):
                    continue
                items.append(self._pruned(item, child_ign, self.unordered.step(uno, i)))
            if uno and self.unordered.accepts(uno):
                items.sort(key=lambda v: json.dumps(v, sort_keys=True, separators=(",", ":")))
            return items
        if self.numeric_strings and isinstance(value, str) and self._number(value) is not None:
            value = float(value)
        if isinstance(value, float) and value.is_integer():
            return int(value)  # 25.0 and 25 are the same JSON number
        return value


_CACHE: dict[int, tuple[ParityConfig, Normaliser]] = {}


def normaliser_for(config: ParityConfig | None) -> Normaliser:
    """The compiled Normaliser of a (frozen) ParityConfig, built once per config object."""
    config = config or _DEFAULT
    hit = _CACHE.get(id(config))
    if hit is not None and hit[0] is config:
        return hit[1]
    if len(_CACHE) > 256:
        _CACHE.clear()
    normaliser = Normaliser(config)
    _CACHE[id(config)] = (config, normaliser)
    return normaliser


_DEFAULT = ParityConfig()


def _diff(path: tuple[Segment, ...], kind: str, ref: Any, cand: Any) -> Difference:
    return Difference(format_path(path), kind, ref, cand, field_key(path))


def _leftovers(keyed: list[tuple[str, int]], common: Counter[str]) -> list[tuple[str, int]]:
    budget = Counter(common)
    left = []
    for key, i in sorted(keyed):
        if budget[key] > 0:
            budget[key] -= 1
        else:
            left.append((key, i))
    return left


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


_DIGITS = bytes(0x30 if 0x30 <= b <= 0x39 else 0x20 for b in range(256))  # every digit "0", the rest " "
_LONG_DIGITS = b"0" * 19  # a run of 19 digits: an int orjson may read past 64 bits (translate + find: 15x a regex)


_Parsed = tuple[Response | None, Any]
_LAST: tuple[_Parsed, _Parsed] = ((None, _NO_JSON), (None, _NO_JSON))  # the last two bodies parsed


def _json_or_missing(response: Response) -> Any:
    """The body's JSON, parsed once per Response: a noise sample compares the reference a second time, right
    after it was compared with the candidate (Responses are immutable; the walk never mutates a value)."""
    global _LAST
    last = _LAST
    for seen, value in last:
        if seen is response:
            return value
    value = _parse(response)
    _LAST = (last[1], (response, value))
    return value


def _parse(response: Response) -> Any:
    ctype = (response.header("content-type") or "").lower()
    body = response.body
    stripped = body.lstrip()[:1]
    if "json" not in ctype and stripped not in (b"{", b"["):
        return _NO_JSON
    if not body.strip():
        return _NO_JSON
    try:
        return orjson.loads(body)  # several times faster than json; what it refuses (UTF-16, NaN) json decides
    except orjson.JSONDecodeError:
        pass
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return _NO_JSON


def _long_digits(data: bytes) -> bool:
    """A run of 19 digits: maybe an int over 64 bits, which orjson reads as a float (translate + find: 15x a
    regex)."""
    return _LONG_DIGITS in data.translate(_DIGITS)


def _exact(response: Response, value: Any, big: bool) -> Any:
    """The body's value, from json (exact ints) when `big`: an int over 64 bits may be where it can differ."""
    if not big:
        return value
    try:
        return json.loads(response.body)
    except (ValueError, UnicodeDecodeError):
        return value


def _identical(ref: Any, cand: Any, exact_eq: bool = False) -> bool:
    """The same JSON value, type for type (Python's == says True == 1; the serialised text does not, and
    `exact_eq` says no boolean can meet a number here): an identical subtree holds no difference."""
    if type(ref) is not type(cand) or ref != cand:
        return False
    if exact_eq or not isinstance(ref, (dict, list)):
        return True
    try:
        return orjson.dumps(ref) == orjson.dumps(cand)
    except TypeError:  # beyond orjson (an int over 64 bits): walk it
        return False


def _text(body: bytes) -> str:
    text = body.decode("utf-8", errors="replace")
    return text if len(text) <= _TEXT_PREVIEW else text[:_TEXT_PREVIEW] + f"… ({len(body)} bytes)"


__all__ = [
    "EMPTY",
    "HEADER_PREFIX",
    "KINDS",
    "STATUS_PATH",
    "Comparison",
    "Difference",
    "Normaliser",
    "Response",
    "normaliser_for",
]
