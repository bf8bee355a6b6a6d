"""The kit's one "did you mean" hint for a mistyped name (a feature, a state, a field, a column)."""
from __future__ import annotations

import difflib
from collections.abc import Iterable


def did_you_mean(word: object, choices: Iterable[str], *, ignore_case: bool = False) -> str:
    """" (did you mean 'orders'?)" for the closest of `choices`, or "" when none is close. With
    `ignore_case` the match ignores case and the hint shows the choice as it is really spelled."""
    options = list(choices)
    if ignore_case:
        by_lower = {c.lower(): c for c in options}
        close = difflib.get_close_matches(str(word).lower(), list(by_lower), n=1)
        return f" (did you mean {by_lower[close[0]]!r}?)" if close else ""
    close = difflib.get_close_matches(str(word), options, n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


__all__ = ["did_you_mean"]
