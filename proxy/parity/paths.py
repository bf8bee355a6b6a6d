"""JSON paths for parity rules: format a location, generalise it to a field, match it against patterns.

A location is a tuple of segments (str = object key, int = list index). Patterns are the JSONPath subset
operators write in the route table: `$`, `.name`, `['name']`, `[3]`, `[*]`, `.*` and recursive descent
`..name` / `..*` / `..[*]`. Patterns are compiled once into a small NFA; `PathSet.step` advances a state set
one segment at a time while the normaliser walks a body, so matching costs O(patterns) per node and nothing
for subtrees no pattern can reach (the empty state set short-circuits).
"""
from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

Segment = str | int
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_\-]*$")
_TOKEN = re.compile(
    r"""(?P<dots>\.\.?)(?:(?P<star>\*)|(?P<name>[^.\[\]]+))?   # .name .* ..name ..*
      | \[(?:(?P<index>-?\d+)|(?P<bstar>\*)|'(?P<sq>[^']*)'|"(?P<dq>[^"]*)")\]   # [3] [*] ['x'] ["x"]""",
    re.VERBOSE,
)


class PathPatternError(ValueError):
    """A pattern outside the supported JSONPath subset; the message says which part and how to write it."""


@dataclass(frozen=True, slots=True)
class _Token:
    descend: bool          # True after '..': any number of segments may be skipped before this one
    key: Segment | None    # exact key/index to match; None = wildcard (any key or index)

    def matches(self, segment: Segment) -> bool:
        return self.key is None or self.key == segment


def format_path(segments: Iterable[Segment], *, generalise: bool = False) -> str:
    """('Products', 3, 'UnitPrice') -> "$.Products[3].UnitPrice" (odd keys as ['a b']); indices as [*] when
    `generalise`."""
    out = ["$"]
    for seg in segments:
        if isinstance(seg, int):
            out.append("[*]" if generalise else f"[{seg}]")
        elif _IDENT.match(seg):
            out.append(f".{seg}")
        else:
            out.append(f'["{seg}"]' if "'" in seg else f"['{seg}']")
    return "".join(out)


def field_key(segments: Iterable[Segment]) -> str:
    """The field a location belongs to, list indices generalised: "$.Products[*].UnitPrice".

    Differences are counted per field (not per index), and a field key is itself a valid ignore pattern.
    """
    return format_path(segments, generalise=True)


def compile_pattern(pattern: str) -> tuple[_Token, ...]:
    """Parse one pattern; PathPatternError names the unsupported part."""
    text = pattern.strip()
    if not text.startswith("$"):
        raise PathPatternError(f"{pattern!r} is not a JSON path; start it with '$', e.g. $.Items[*].Id")
    tokens: list[_Token] = []
    pos, descend_pending = 1, False
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m:
            raise PathPatternError(f"{pattern!r}: cannot read {text[pos:]!r}; use .name, ['name'], [N], [*], "
                                   f".* or ..name")
        pos = m.end()
        if m.group("dots") is not None:
            descend = m.group("dots") == ".."
            if m.group("star"):
                tokens.append(_Token(descend or descend_pending, None))
            elif m.group("name") is not None:
                tokens.append(_Token(descend or descend_pending, m.group("name")))
            elif descend:  # '..' directly followed by a bracket: '..[*]'
                descend_pending = True
                continue
            else:
                raise PathPatternError(f"{pattern!r}: a '.' must be followed by a name or '*'")
        elif m.group("index") is not None:
            tokens.append(_Token(descend_pending, int(m.group("index"))))
        elif m.group("bstar"):
            tokens.append(_Token(descend_pending, None))
        else:
            tokens.append(_Token(descend_pending, m.group("sq") if m.group("sq") is not None else m.group("dq")))
        descend_pending = False
    if descend_pending:
        raise PathPatternError(f"{pattern!r} ends with '..'; name what to match, e.g. ..ServerTime")
    return tuple(tokens)


State = frozenset[tuple[int, int]]  # of (pattern number, token position)
EMPTY: State = frozenset()


class PathSet:
    """A compiled set of patterns. Walk with `start` / `step(state, segment)`; `accepts(state)` is a match.

    Transitions are memoised per (state, segment), so repeated shapes (every element of a list) cost a
    dict lookup. The memo is bounded and simply cleared when full.
    """

    _MEMO_LIMIT = 50_000

    def __init__(self, patterns: Iterable[str]):
        self.patterns = tuple(dict.fromkeys(patterns))
        self._compiled = tuple(compile_pattern(p) for p in self.patterns)
        self.start: State = frozenset((i, 0) for i in range(len(self._compiled)))
        self._memo: dict[tuple[State, Segment], State] = {}
        self._accepting = {(i, len(t)) for i, t in enumerate(self._compiled)}

    def __bool__(self) -> bool:
        return bool(self._compiled)

    def step(self, state: State, segment: Segment) -> State:
        if not state:
            return EMPTY
        key = (state, segment)
        hit = self._memo.get(key)
        if hit is not None:
            return hit
        out: set[tuple[int, int]] = set()
        for i, pos in state:
            tokens = self._compiled[i]
            if pos == len(tokens):
                continue
            tok = tokens[pos]
            if tok.descend:
                out.add((i, pos))
            if tok.matches(segment):
                out.add((i, pos + 1))
        result = frozenset(out) if out else EMPTY
        if len(self._memo) >= self._MEMO_LIMIT:
            self._memo.clear()
        self._memo[key] = result
        return result

    def accepts(self, state: State) -> bool:
        return any(s in self._accepting for s in state)

    def accepted(self, state: State) -> set[int]:
        """Which patterns (by position in `patterns`) match at this state."""
        return {i for i, pos in state if (i, pos) in self._accepting}

    def matches_field(self, key: str) -> bool:
        """Does a stored field key ("$.Items[*].Created") fall under these patterns? `[*]` in the key stands for
        every index: a wildcard pattern matches it, a single index ([3]) does not."""
        if not key.startswith("$"):
            return False
        try:
            segments = [-1 if t.key is None else t.key for t in compile_pattern(key)]
        except PathPatternError:
            return False
        return self.matches(segments)

    def matches(self, segments: Iterable[Segment]) -> bool:
        """Whole-location test (used for one-off checks; the walker uses step/accepts)."""
        state = self.start
        for seg in segments:
            state = self.step(state, seg)
            if not state:
                return False
        return self.accepts(state)
