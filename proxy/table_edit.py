"""The one write path of the route table: flips, parity ignore rules, rollback and ownership handovers.

Why a round-trip edit: comments and key order survive because we edit ruamel's round-trip tree, not a
dict. Why under the store's lock (proxy/stores): several writers may edit at the same moment; each reads the
latest table inside the lock, so none is lost, and its ledger record is written in the same lock (files) or
transaction (PostgreSQL), so ledger order matches table order and a failed append un-does the edit.
"""
from __future__ import annotations

import io
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.util import load_yaml_guess_indent

from proxy.stores import StoreError, TableStore, open_table_store
from proxy.table import RouteTable, TableError, parse_table


class FlipError(ValueError):
    """A flip (or another table edit) that was not done; the message says why and what to do. `reasons`
    lists gate refusals."""

    def __init__(self, message: str, reasons: tuple[str, ...] | list[str] = ()):
        super().__init__(message)
        self.reasons = list(reasons)


@dataclass
class TableEdit[T]:
    """What `edit_table` did: the mutator's value, whether the table changed, and the table now in force."""

    value: T
    changed: bool
    table: RouteTable


def table_store(location: TableStore | str | os.PathLike[str]) -> TableStore:
    """The store at `location` (proxy.stores.open_table_store), its problems as FlipError."""
    try:
        return open_table_store(location)
    except StoreError as exc:
        raise FlipError(str(exc)) from None


def edit_table[T](location: TableStore | str | os.PathLike[str], mutate: Callable[[RouteTable, Any], T], *,
               after_write: Callable[[T], None] | None = None) -> TableEdit[T]:
    """Edit the route table safely.

    Under the store's exclusive lock: read the latest table and validate it (FlipError if it is already
    invalid), call `mutate(table, doc)` where `doc` is the ruamel round-trip tree (edit it in place to keep
    comments and key order; raise FlipError to refuse), validate the whole edited table (FlipError naming the
    problem, nothing written), write it (atomic replace / compare-and-swap), then run `after_write(value)`
    still under the lock (e.g. a ledger append). A mutator that leaves the tree unchanged writes nothing.
    """
    store = table_store(location)
    try:
        with store.locked() as locked:
            edit, new_text = _apply(locked.text, str(store), mutate)
            if new_text is not None:
                locked.write(new_text, actor=str(getattr(edit.value, "actor", "")))
                if after_write is not None:
                    after_write(edit.value)
        return edit
    except StoreError as exc:
        raise FlipError(str(exc)) from None


def _apply[T](text: str, source: str, mutate: Callable[[RouteTable, Any], T]) -> tuple[TableEdit[T], str | None]:
    """Validate, mutate the round-trip tree, validate the result: (edit, new text or None when unchanged)."""
    try:
        table = parse_table(text, source=source)
    except TableError as exc:
        raise FlipError(f"the route table is invalid; fix it first:\n{exc}") from None
    yaml, doc = round_trip(text)
    before = dump_yaml(yaml, doc)
    value = mutate(table, doc)
    new_text = dump_yaml(yaml, doc)
    if new_text == before:
        return TableEdit(value, False, table), None
    try:
        new_table = parse_table(new_text, source=source)
    except TableError as exc:
        raise FlipError(f"the edited table would be invalid; nothing written:\n{exc}") from None
    return TableEdit(value, True, new_table), new_text


def set_key_after_state(node: Any, key: str, value: Any) -> None:
    """Set `key` in a feature's round-trip node; a new key goes right after `state` (readers look there)."""
    if key in node:
        node[key] = value
    else:
        keys = list(node)
        node.insert(keys.index("state") + 1 if "state" in keys else len(keys), key, value)


def round_trip(text: str) -> tuple[YAML, Any]:
    """A ruamel round-trip loader/dumper configured to write the file back in its own indentation style."""
    _, seq_indent, seq_offset = load_yaml_guess_indent(text)
    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    yaml.width = 4096  # never re-wrap long lines
    seq_offset = seq_offset or 0
    yaml.indent(mapping=_mapping_indent(text), sequence=max(seq_indent or 2, seq_offset + 2), offset=seq_offset)
    return yaml, yaml.load(text)


def dump_yaml(yaml: YAML, doc: Any) -> str:
    out = io.StringIO()
    yaml.dump(doc, out)
    return out.getvalue()


def _mapping_indent(text: str) -> int:
    """Smallest indentation of a nested mapping key (ruamel's guesser only measures sequences)."""
    widths = [len(line) - len(line.lstrip(" ")) for line in text.splitlines()
              if line.strip() and not line.lstrip().startswith(("#", "-")) and line.startswith(" ")]
    return min(widths, default=2)


__all__ = ["FlipError", "TableEdit", "dump_yaml", "edit_table", "round_trip", "set_key_after_state", "table_store"]
