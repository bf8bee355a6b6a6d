"""What a data migration needs to know about one table, declared by the ACL that owns the translation."""
from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Table

RowTranslator = Callable[[Mapping[str, Any]], Mapping[str, Any]]


@dataclass(frozen=True)
class TableMapping:
    """Source table + unique sortable key column → target table, through a pure row translator.

    The translator receives a source row (column names matched case-insensitively, since legacy upper-case
    names come back folded on PostgreSQL) and returns target column values, or raises ValueError (e.g. the
    ACL's TranslationError, whose field/value/reason are reported) for a row the target cannot hold.
    """

    source_table: str
    source_key: str
    target: Table
    translate: RowTranslator
    target_key: tuple[str, ...] = ("id",)

    @property
    def name(self) -> str:
        return f"{self.source_table}→{self.target.name}"


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
