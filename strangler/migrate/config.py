"""config/migrations.yaml: feature → which mappings to run and which env vars hold the two database URLs.

Example::

    catalog:
      mapping: acl.catalog.mapping:PRODUCTS      # or a list of "module:ATTRIBUTE"
      source_env: LEGACY_DATABASE_URL
      source_default: "sqlite:///{var_dir}/legacy.db"
      target_env: CATALOG_DATABASE_URL
      target_default: "sqlite:///{var_dir}/catalog.db"
"""
from __future__ import annotations

import importlib
import os
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from strangler.migrate.mapping import TableMapping


class MigrationConfigError(ValueError):
    """The migrations file or a feature in it is unusable; the message names file, feature and fix."""


class FeatureMigration(BaseModel):
    model_config = ConfigDict(extra="forbid")

    mapping: list[str] = Field(min_length=1)
    source_env: str
    target_env: str
    source_default: str | None = None
    target_default: str | None = None

    @field_validator("mapping", mode="before")
    @classmethod
    def _one_or_many(cls, value: object) -> object:
        return [value] if isinstance(value, str) else value

    def resolve_url(self, which: str, var_dir: Path) -> str:
        env, default = (self.source_env, self.source_default) if which == "source" else \
            (self.target_env, self.target_default)
        url = os.environ.get(env) or (default.format(var_dir=var_dir) if default else None)
        if not url:
            raise MigrationConfigError(f"{which} database: set {env} (a SQLAlchemy URL) or give "
                                       f"{which}_default in the migrations file")
        return url

    def load_mappings(self) -> list[TableMapping]:
        return [load_mapping(ref) for ref in self.mapping]


def load_mapping(ref: str) -> TableMapping:
    module_name, sep, attribute = ref.partition(":")
    if not sep or not module_name or not attribute:
        raise MigrationConfigError(f"mapping {ref!r} must look like 'package.module:ATTRIBUTE'")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise MigrationConfigError(f"mapping {ref!r}: cannot import {module_name} ({exc})") from None
    mapping = getattr(module, attribute, None)
    if not isinstance(mapping, TableMapping):
        raise MigrationConfigError(f"mapping {ref!r}: {attribute} is not a TableMapping in {module_name}")
    return mapping


def load_config(path: Path) -> dict[str, FeatureMigration]:
    if not path.exists():
        raise MigrationConfigError(f"{path}: migrations file not found; pass --config or create it "
                                   "(see config/migrations.yaml in the kit)")
    try:
        raw = YAML(typ="safe").load(path.read_text())
    except YAMLError as exc:
        raise MigrationConfigError(f"{path}: invalid YAML: {exc}") from None
    if not isinstance(raw, dict):
        raise MigrationConfigError(f"{path}: expected a mapping of feature name → migration settings")
    features: dict[str, FeatureMigration] = {}
    for name, settings in raw.items():
        try:
            features[str(name)] = FeatureMigration.model_validate(settings)
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
            raise MigrationConfigError(f"{path}: feature {name!r}: {problems}") from None
    return features


def feature_config(path: Path, feature: str) -> FeatureMigration:
    features = load_config(path)
    if feature not in features:
        known = ", ".join(sorted(features)) or "none"
        raise MigrationConfigError(f"{path}: no migration for feature {feature!r} (known: {known})")
    return features[feature]
