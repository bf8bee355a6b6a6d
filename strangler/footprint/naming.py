"""Does a table's name say which module owns it? `plants` <-> `plant`, `categories` <-> `category`,
`inv` <-> `inventory`, `plant_readings` <-> `plants`. Used to guess owners when the footprint config names
none: a module's own table that another module happens to write most must still be the module's.
"""
from __future__ import annotations

import re

EXACT, ABBREVIATION, WORD = 3, 2, 1  # how strongly a name matches (higher wins)
_MIN_ABBREVIATION = 3


def _singular(word: str) -> str:
    for plural, single in (("ies", "y"), ("sses", "ss"), ("uses", "us"), ("xes", "x"), ("ches", "ch"), ("shes", "sh")):
        if word.endswith(plural) and len(word) > len(plural) + 1:
            return word[: -len(plural)] + single
    if word.endswith("s") and not word.endswith(("ss", "us", "is")) and len(word) > 3:
        return word[:-1]
    return word


def _words(name: str) -> list[str]:
    name = name.rsplit(".", 1)[-1]  # schema.table -> table
    name = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name).lower()  # PlantReadings -> plant_readings
    return [_singular(w) for w in re.split(r"[^a-z0-9]+", name) if w and w not in ("tbl", "t")]


def _abbreviates(short: str, long: str) -> bool:
    return len(short) >= _MIN_ABBREVIATION and short != long and long.startswith(short)


def name_score(module: str, table: str) -> int:
    """EXACT (same words, singular or plural), ABBREVIATION (one a prefix of the other, >= 3 letters),
    WORD (one of the table's words is the module's name), else 0."""
    m, t = _words(module), _words(table)
    if not m or not t:
        return 0
    if m == t:
        return EXACT
    whole_m, whole_t = "".join(m), "".join(t)
    if _abbreviates(whole_m, whole_t) or _abbreviates(whole_t, whole_m):
        return ABBREVIATION
    if len(m) == 1 and m[0] in t:
        return WORD
    return 0


def owner_by_name(table: str, modules: list[str], writes: dict[str, int]) -> str | None:
    """The module whose name matches the table best; ties broken by writes, then name. None if no match."""
    scored = [(name_score(module, table), writes.get(module, 0), module) for module in modules]
    scored = [s for s in scored if s[0]]
    if not scored:
        return None
    return min(scored, key=lambda s: (-s[0], -s[1], s[2]))[2]
