"""What a data migration needs to know about one table, declared by the ACL that owns the translation."""
from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
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


class Row(Mapping[str, Any]):
    """A read-only row whose keys match case-insensitively (PROD_ID finds prod_id)."""

    __slots__ = ("_data", "_names")

    def __init__(self, data: Mapping[str, Any]) -> None:
        self._data = {key.casefold(): value for key, value in data.items()}
        self._names = list(data)

    def __getitem__(self, key: str) -> Any:
        return self._data[key.casefold()]

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and key.casefold() in self._data

    def __iter__(self) -> Iterator[str]:
        return iter(self._names)

    def __len__(self) -> int:
        return len(self._names)

    def __repr__(self) -> str:
        return f"Row({dict(zip(self._names, self._data.values(), strict=True))!r})"
