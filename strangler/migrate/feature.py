"""One feature's migration at run time: its mappings, both engines, and the routes/capture specs derived
from them per direction. The CLI, the status section and the tests all go through this."""
from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from strangler.migrate import capture
from strangler.migrate.config import FeatureMigration, feature_config
from strangler.migrate.db import (
    ID_CEILING_INFO,
    MigrationError,
    find_columns,
    keyset_columns,
    open_engine,
    reflect_table,
)
from strangler.migrate.engine import column_check
from strangler.migrate.mapping import Row, TableMapping, UnknownColumn
from strangler.migrate.sync import Route

SIDES = ("legacy", "service")


@dataclass
class FeatureRuntime:
    name: str
    mappings: list[TableMapping]
    source: Engine   # legacy database
    target: Engine   # service database
    _routes: dict[str, list[Route]] = field(default_factory=dict)

    def dispose(self) -> None:
        self.source.dispose()
        self.target.dispose()

    def engines(self, direction: str) -> tuple[Engine, Engine]:
        """(read, write) engines of a sync direction."""
        return (self.source, self.target) if direction == "forward" else (self.target, self.source)

    def capture_specs(self, side: str) -> list[capture.CaptureSpec]:
        if side == "legacy":
            return [capture.resolve(self.source, m.source_table,
                                    [c.name for c in keyset_columns(reflect_table(self.source, m.source_table),
                                                                    m.source_keys)])
                    for m in self.mappings]
        return [capture.resolve(self.target, m.target.name, m.target_key) for m in self.mappings]

    def create_target_tables(self) -> None:
        for mapping in self.mappings:
            mapping.target.metadata.create_all(self.target, tables=[mapping.target])

    def routes(self, direction: str) -> list[Route]:
        if direction not in self._routes:
            self._routes[direction] = [_route(m, self.source, self.target, direction) for m in self.mappings]
        return self._routes[direction]


def _to_columns(table: str, table_columns: list[str], values: Mapping[str, Any]) -> dict[str, Any]:
    """Translator output (legacy names, any case) → the reflected table's real column names; a key that is
    no column of the table quarantines the row (UnknownColumn), it is never written without it."""
    by_lower = {name.lower(): name for name in table_columns}
    out = {}
    for key, value in values.items():
        real = by_lower.get(key.lower())
        if real is None:
            raise UnknownColumn(key, table, table_columns)
        out[real] = value
    return out


def _route(mapping: TableMapping, source: Engine, target: Engine, direction: str) -> Route:
    legacy_table = reflect_table(source, mapping.source_table)
    legacy_keys = keyset_columns(legacy_table, mapping.source_keys)
    if direction == "forward":
        check = column_check(mapping.target)
        return Route(logical=mapping.source_table, read_table=legacy_table, read_keys=tuple(legacy_keys),
                     write_table=mapping.target, write_keys=tuple(mapping.target_key),
                     translate=lambda row: dict(check(mapping.translate(row))))
    if mapping.to_source is None:
        raise MigrationError(f"{mapping.name}: reverse sync needs a `to_source` translator (service row → legacy "
                             "row) in the ACL mapping; add one or keep writes with legacy")
    to_source = mapping.to_source
    if mapping.service_ids is not None:  # the service's ids land here: legacy's own sequence stays below them
        legacy_table.info[ID_CEILING_INFO] = mapping.service_ids.first_id()
    names = [c.name for c in legacy_table.columns]
    target_keys = find_columns(mapping.target, mapping.target_key)
    if len(target_keys) != len(legacy_keys):
        raise MigrationError(f"{mapping.name}: target key {mapping.target_key} and source key "
                             f"{[c.name for c in legacy_keys]} must correspond column by column")
    return Route(logical=mapping.target.name, read_table=mapping.target, read_keys=tuple(target_keys),
                 write_table=legacy_table, write_keys=tuple(c.name for c in legacy_keys),
                 translate=lambda row: _to_columns(legacy_table.name, names, to_source(row)))


def open_feature(config_path: Path, feature: str, var_dir: Path) -> FeatureRuntime:
    spec: FeatureMigration = feature_config(config_path, feature)
    mappings = spec.load_mappings()
    source = open_engine(spec.resolve_url("source", var_dir))
    target = open_engine(spec.resolve_url("target", var_dir))
    return FeatureRuntime(name=feature, mappings=mappings, source=source, target=target)


@contextlib.contextmanager
def feature_runtime(config_path: Path, feature: str, var_dir: Path) -> Iterator[FeatureRuntime]:
    runtime = open_feature(config_path, feature, var_dir)
    try:
        yield runtime
    finally:
        runtime.dispose()


__all__ = ["SIDES", "FeatureRuntime", "Row", "feature_runtime", "open_feature"]
