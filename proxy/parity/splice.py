"""Two JSON bodies that differ in the text of ONE string value: compared without parsing either (issue 21).

The shadow worker's cost per copy was mostly JSON: two full parses of ~12 KB (the demo's catalog page), the
parsed trees freed again and their equal parts compared; yet the typical pair of answers differs in one
timestamp or request id. The JSON path of a place in a document depends only on the text BEFORE it, and what
the comparison reports for a single differing string leaf depends only on that path, the document's shape and
the two string values. So:

1. Bytes first: the bodies' longest common prefix and suffix (binary searches of memcmps) leave one differing
   stretch. When that stretch lies inside one string literal in both bodies (no quote, backslash or control
   character in either side's literal, the prefix free of backslashes so an odd number of quotes before it
   means "inside a string"; not an object key), the two documents are one FRAME — the text before the
   literal's content and the text from its closing quote on — with two different contents.
2. The first pair seen in a frame is compared in full (parsed, walked: the normal path). If that found
   exactly one entry (a difference, an ignored difference or a normalised pair) and it is the string leaf at
   the place the bytes say, the frame is learned: the leaf's path, whether an ignore rule covers it, the
   normaliser rule there (if any) and the normalise paths the walk noted (`rules_matched`; they depend on the
   shape only).
3. A later pair in a learned frame (same frame text byte for byte, checked with two memcmps) is answered from
   it: the two string values are decoded from the bytes and compared as the walk compares a leaf (the rule,
   then `Normaliser._leaf`). No parse, no walk.

Any doubt falls back to the full comparison: a stretch across quotes, escapes, a key, a body that does not
start with '{' or '[', unordered or `present` rules (they pair or report whole values), an unpruned normaliser
(the reference walk), a comparison that already holds entries. tests/unit/parity/test_parity_splice.py checks
the result equals the full walk's on random documents, rules and edits.

Memory: frames are kept per Normaliser, at most MAX_FRAMES of them and only for bodies up to MAX_BODY bytes;
a full memo starts again (a route whose answers change shape every time only costs a little extra per miss).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from proxy.parity.paths import Segment

MAX_FRAMES = 64
MAX_BODY = 256 * 1024
_UNSAFE = re.compile(rb'[\x00-\x1f"\\]')  # what a string's content may not hold here: ends, escapes, controls
_SPACE = b" \t\r\n"


@dataclass(frozen=True, slots=True)
class Site:
    """Where two bodies differ: inside one string literal, content ref[start:ref_end] vs cand[start:cand_end]
    (`start` just after the opening quote, the ends at the closing quotes)."""

    start: int
    ref_end: int
    cand_end: int

    def key(self, ref: bytes) -> tuple[int, int]:
        return self.start, len(ref) - self.ref_end


@dataclass(frozen=True, slots=True)
class Frame:
    """What the full comparison found for the string leaf of one frame (see the module doc)."""

    head: bytes  # the text up to and including the opening quote
    tail: bytes  # the text from the closing quote on
    path: tuple[Segment, ...]
    ignored: bool  # an ignore rule covers the leaf: a difference lands in Comparison.ignored
    rule: Any  # the NormaliseRule at the leaf, or None
    rules_matched: frozenset[str]


class SpliceMemo:
    """The learned frames of one Normaliser, by (head length, tail length)."""

    def __init__(self) -> None:
        self.frames: dict[tuple[int, int], Frame] = {}
        self.last: Frame | None = None  # most pairs of a route share the last frame: tried before any search

    def find(self, ref: bytes, cand: bytes) -> tuple[Frame | None, Site | None]:
        """The learned frame both bodies are in (with the site), else (None, the site to learn) or (None, None)."""
        last = self.last
        if last is not None:
            site = _in_frame(last, ref, cand)
            if site is not None:
                return last, site
        site = one_string(ref, cand)
        if site is None:
            return None, None
        frame = self.frames.get(site.key(ref))
        if frame is not None and _in_frame(frame, ref, cand) is not None:
            self.last = frame
            return frame, site
        return None, site

    def learn(self, frame: Frame, key: tuple[int, int]) -> None:
        if len(frame.head) + len(frame.tail) > MAX_BODY:
            return
        if len(self.frames) >= MAX_FRAMES:
            self.frames.clear()
        self.frames[key] = frame
        self.last = frame


def _in_frame(frame: Frame, ref: bytes, cand: bytes) -> Site | None:
    """The site when both bodies are the frame's text around a plain string content (no quote, escape, control)."""
    head, tail = frame.head, frame.tail
    if not (ref.startswith(head) and cand.startswith(head) and ref.endswith(tail) and cand.endswith(tail)):
        return None
    start, ref_end, cand_end = len(head), len(ref) - len(tail), len(cand) - len(tail)
    if (
        ref_end < start
        or cand_end < start
        or _UNSAFE.search(ref, start, ref_end)
        or _UNSAFE.search(cand, start, cand_end)
    ):
        return None
    return Site(start, ref_end, cand_end)


def one_string(ref: bytes, cand: bytes) -> Site | None:
    """The site when the bodies differ only inside one string value (not a key) of an object or array document
    whose text before that string holds no backslash; None otherwise (or when they are equal)."""
    if ref == cand or ref[:1] not in (b"{", b"[") or cand[:1] != ref[:1]:
        return None
    p = common_prefix(ref, cand)
    s = common_suffix(ref, cand, min(len(ref), len(cand)) - p)
    opening = ref.rfind(b'"', 0, p)
    if opening < 0 or ref.find(b"\\", 0, p) >= 0 or ref.count(b'"', 0, p) % 2 == 0:
        return None  # not inside a string (or escapes before it make the count unreliable)
    start = opening + 1
    ref_end, cand_end = ref.find(b'"', p), cand.find(b'"', p)
    if ref_end < len(ref) - s or cand_end < len(cand) - s:  # the differing stretch holds a quote (or none ends it)
        return None
    if _UNSAFE.search(ref, start, ref_end) or _UNSAFE.search(cand, start, cand_end):
        return None
    after = ref_end + 1
    while after < len(ref) and ref[after] in _SPACE:
        after += 1
    if ref[after : after + 1] == b":":  # an object key: a renamed key is missing + extra, not a changed value
        return None
    return Site(start, ref_end, cand_end)


def values(ref: bytes, cand: bytes, site: Site) -> tuple[str, str] | None:
    """The two string values (None when a side is not valid UTF-8: the full comparison decides then)."""
    try:
        return ref[site.start : site.ref_end].decode(), cand[site.start : site.cand_end].decode()
    except UnicodeDecodeError:
        return None


def locate(ref: Any, cand: Any) -> tuple[Segment, ...] | None:
    """The path of the one place two parsed documents differ, when it is a string leaf on both sides."""
    path: list[Segment] = []
    while True:
        if isinstance(ref, str) and isinstance(cand, str):
            return tuple(path) if ref != cand else None
        if isinstance(ref, dict) and isinstance(cand, dict):
            if ref.keys() != cand.keys():
                return None
            keys: list[Segment] = [k for k in ref if type(ref[k]) is not type(cand[k]) or ref[k] != cand[k]]
        elif isinstance(ref, list) and isinstance(cand, list):
            if len(ref) != len(cand):
                return None
            keys = [i for i, (a, b) in enumerate(zip(ref, cand, strict=True)) if type(a) is not type(b) or a != b]
        else:
            return None
        if len(keys) != 1:
            return None
        path.append(keys[0])
        ref, cand = ref[keys[0]], cand[keys[0]]


def common_prefix(a: bytes, b: bytes) -> int:
    """The length of the longest common prefix: a binary search, each probe one memcmp (no copy)."""
    lo, hi = 0, min(len(a), len(b))
    view = memoryview(b)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if a.startswith(view[:mid]):
            lo = mid
        else:
            hi = mid - 1
    return lo


def common_suffix(a: bytes, b: bytes, limit: int) -> int:
    """The length of the longest common suffix, at most `limit` (so it never overlaps the common prefix)."""
    lo, hi = 0, max(0, limit)
    view, n = memoryview(b), len(b)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if a.endswith(view[n - mid :]):
            lo = mid
        else:
            hi = mid - 1
    return lo
