"""What a data migration needs to know about one table, declared by the ACL that owns the translation."""
from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from sqlalchemy import Table

from proxy.common.suggest import did_you_mean

RowTranslator = Callable[[Mapping[str, Any]], Mapping[str, Any]]
Key = tuple[Any, ...]


@dataclass(frozen=True)
class IdRange:
    """Ids the service hands out itself start at `start()` (read when checked: it is the service's setting,
    named by `setting`); legacy's ids, and legacy's next id, must stay below it."""

    start: Callable[[], int]
    setting: str

    def first_id(self) -> int:
        """`start()`; an invalid setting becomes one MigrationError line naming it (not a traceback)."""
        from strangler.migrate.db import MigrationError

        try:
            return self.start()
        except (ValueError, RuntimeError) as exc:
            raise MigrationError(f"{self.setting}: {' '.join(str(exc).split())}") from None


@dataclass(frozen=True)
class TableMapping:
    """Source table + unique sortable key column(s) → target table, through pure row translators.

    - `translate`: source row → target column values (forward: backfill, forward sync). Raises ValueError
      (e.g. the ACL's TranslationError with field/value/reason) for a row the target cannot hold.
    - `to_source` (optional): target row → source column values (reverse sync, when the service owns writes).
    - `source_domain` / `target_domain` (optional): a row of either side → its canonical DOMAIN form (a
      mapping of plain values) for `verify`; without them verify compares `translate(source row)` with the
      target row's columns.
    - `service_ids` (optional): the service allocates ids of this table's rows from its own range (IdRange);
      `migrate status` checks that legacy's ids stay below it.
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
    service_ids: IdRange | None = None

    @property
    def name(self) -> str:
        return f"{self.source_table}→{self.target.name}"

    @property
    def source_keys(self) -> tuple[str, ...]:
        return (self.source_key,) if isinstance(self.source_key, str) else tuple(self.source_key)


def what_verify_proves(mapping: TableMapping) -> str:
    """One sentence for `migrate verify`: what its PASS means for this table, and how to make it mean more."""
    if mapping.source_domain and mapping.target_domain:
        return (f"{mapping.name}: compared as domain objects, source_domain(legacy row) == target_domain(service "
                "row) for every key")
    if mapping.target_domain:
        return (f"{mapping.name}: compared as domain objects, translate(legacy row) == target_domain(service row); "
                "add source_domain to read the legacy row independently of translate")
    return (f"{mapping.name}: service row == translate(legacy row) for every key — this proves the copy is "
            "complete and current, not that translate is right (a consistently wrong translator passes). Fix: "
            "give the mapping source_domain and target_domain to compare domain objects")


def encode_key(values: Sequence[Any]) -> str:
    """A key as stored in checkpoints, quarantine and change tables: a JSON array ('[42]', '[7, 1]')."""
    return json.dumps(list(values), default=str, separators=(",", ":"))


def decode_key(text: str) -> Key:
    return tuple(json.loads(text))


class MissingColumn(KeyError, ValueError):
    """A translator read a column the source row does not have. A ValueError, so the row is quarantined with
    this one-line reason (not a traceback); a KeyError, so `row.get(name)` and `name in row` still work."""

    def __init__(self, key: str, columns: Iterable[str]) -> None:
        super().__init__(key)
        self.key, self.columns = key, columns  # the message is built only when shown (row.get misses are cheap)

    def __str__(self) -> str:
        return (f"translator reads column {self.key!r}, which the source row does not have"
                f"{did_you_mean(self.key, self.columns, ignore_case=True)}")


class UnknownColumn(ValueError):
    """A translator returned a key that is not a column of the table it writes; writing the row anyway would
    silently drop that value (and leave the column it was meant for NULL)."""

    def __init__(self, key: str, table: str, columns: Iterable[str]) -> None:
        super().__init__(f"translator returned {key!r}, which is not a column of {table}"
                         f"{did_you_mean(key, columns, ignore_case=True)}; fix the translator")


class ColumnCheck:
    """Built once per target table: `check(values)` returns `values` if every key is a column of the table,
    else raises UnknownColumn naming the first unknown key. One C-level subset test per row."""

    __slots__ = ("allowed", "table")

    def __init__(self, table: str, columns: Iterable[str]) -> None:
        self.table = table
        self.allowed = frozenset(columns)

    def __call__(self, values: Mapping[str, Any]) -> Mapping[str, Any]:
        if values.keys() <= self.allowed:
            return values
        unknown = sorted(k for k in values if k not in self.allowed)
        raise UnknownColumn(unknown[0], self.table, sorted(self.allowed))


class Row(dict):
    """A read-only row whose keys match case-insensitively (PROD_ID finds prod_id).

    A dict, so exact names are C-speed lookups; a miss (e.g. PostgreSQL's lower-case names) falls back to a
    case-folded copy built once per row.
    """

    __slots__ = ("_folded",)

    def __init__(self, data: Mapping[Any, Any] | Iterable[tuple[str, Any]]) -> None:
        super().__init__(data)
        self._folded: dict[str, Any] | None = None

    def __missing__(self, key: str) -> Any:
        if self._folded is None:
            self._folded = {k.casefold(): v for k, v in self.items()}
        try:
            return self._folded[key.casefold()]
        except (KeyError, AttributeError):
            raise MissingColumn(key, self) from None

    def __contains__(self, key: object) -> bool:
        if dict.__contains__(self, key):
            return True
        try:
            self[key]
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
        try:
            return dict.__getitem__(self, aliases[key.casefold()])
        except (KeyError, AttributeError):
            raise MissingColumn(key, columns) from None

    return type("Row", (Row,), {"__slots__": (), "__init__": dict.__init__, "__missing__": missing,
                                "__module__": __name__})
