"""What a data migration needs to know about one table, declared by the ACL that owns the translation."""
from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from sqlalchemy import Table

RowTranslator = Callable[[Mapping[str, Any]], Mapping[str, Any]]
Key = tuple[Any, ...]


@dataclass(frozen=True)
class TableMapping:
    """Source table + unique sortable key column(s) → target table, through pure row translators.

    - `translate`: source row → target column values (forward: backfill, forward sync). Raises ValueError
      (e.g. the ACL's TranslationError with field/value/reason) for a row the target cannot hold.
    - `to_source` (optional): target row → source column values (reverse sync, when the service owns writes).
    - `source_domain` / `target_domain` (optional): a row of either side → its canonical DOMAIN form (a
      mapping of plain values) for `verify`; without them verify compares `translate(source row)` with the
      target row's columns.
    - `batch_translate` (optional): returns a translator equivalent to `translate` with its configuration
      (e.g. the legacy time zone from the environment) resolved once; the backfill calls it once per batch
      instead of paying that lookup per row.
    Rows passed in match column names case-insensitively (legacy upper-case names fold on PostgreSQL).
    `source_key` and `target_key` correspond position by position (PROD_ID ↔ id). A declared source key that
    is a strict prefix of the source primary key is widened to the whole primary key for keyset reads.
    """

    source_table: str
    source_key: str | tuple[str, ...]
    target: Table
    translate: RowTranslator
    target_key: tuple[str, ...] = ("id",)
    to_source: RowTranslator | None = None
    source_domain: RowTranslator | None = None
    target_domain: RowTranslator | None = None
    batch_translate: Callable[[], RowTranslator] | None = None

    @property
    def name(self) -> str:
        return f"{self.source_table}→{self.target.name}"

    @property
    def source_keys(self) -> tuple[str, ...]:
        return (self.source_key,) if isinstance(self.source_key, str) else tuple(self.source_key)


def encode_key(values: Sequence[Any]) -> str:
    """A key as stored in checkpoints, quarantine and change tables: a JSON array ('[42]', '[7, 1]')."""
    return json.dumps(list(values), default=str, separators=(",", ":"))


def decode_key(text: str) -> Key:
    return tuple(json.loads(text))


class Row(dict):
    """A read-only row whose keys match case-insensitively (PROD_ID finds prod_id).

    A dict, so exact names are C-speed lookups; a miss (e.g. PostgreSQL's lower-case names) falls back to a
    case-folded copy built once per row.
    """

    __slots__ = ("_folded",)

    def __init__(self, data: Mapping[str, Any]) -> None:
        super().__init__(data)
        self._folded: dict[str, Any] | None = None

    def __missing__(self, key: str) -> Any:
        if self._folded is None:
            self._folded = {k.casefold(): v for k, v in self.items()}
        return self._folded[key.casefold()]  # KeyError when no column matches

    def __contains__(self, key: object) -> bool:
        if dict.__contains__(self, key):
            return True
        try:
            self[key]  # type: ignore[index]
        except (KeyError, AttributeError):
            return False
        return True

    def get(self, key: str, default: Any = None) -> Any:
        try:
            return self[key]
        except (KeyError, AttributeError):
            return default

    def __repr__(self) -> str:
        return f"Row({dict.__repr__(self)})"


@lru_cache(maxsize=64)
def row_type(columns: tuple[str, ...]) -> type[Row]:
    """A Row class for rows of exactly these columns: built at plain-dict speed (`row_type(cols)(zip(cols,
    values))`), and a case-insensitive miss is one lookup in a folded-name table shared by all its rows
    instead of a folded copy per row (PostgreSQL's lower-case names, read by upper-case translators)."""
    aliases = {name.casefold(): name for name in columns}

    def missing(self: Row, key: str) -> Any:
        return dict.__getitem__(self, aliases[key.casefold()])  # KeyError when no column matches

    return type("Row", (Row,), {"__slots__": (), "__init__": dict.__init__, "__missing__": missing,
                                "__module__": __name__})
