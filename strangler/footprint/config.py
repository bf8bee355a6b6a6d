"""The analysis config (config/footprint.yaml): who owns which table, which modules make up a feature.

Everything here is optional: without it ownership is guessed (name match, then top writer: see analysis),
and every module is a feature of its own name. Errors name the file, the key and the fix — never a pydantic traceback.
"""
from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from proxy.common.yamlio import YamlSyntaxError, parse_yaml, plain


class ConfigError(ValueError):
    """A config problem the user can fix; the message says where and how."""


class FootprintConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    dialect: str | None = Field(None, description="sqlglot dialect of the captured SQL (sqlite, postgres, ...)")
    modules: dict[str, list[str]] = Field(default_factory=dict, description="module -> tables it owns")
    features: dict[str, list[str]] = Field(default_factory=dict, description="feature -> modules that move")
    module_aliases: dict[str, str] = Field(default_factory=dict,
                                           description="captured name (blueprint, application_name) -> module")
    ignore_tables: list[str] = Field(default_factory=list)
    max_errors: int = Field(20, ge=0, description="unparseable statements listed in reports")

    @field_validator("dialect")
    @classmethod
    def _known_dialect(cls, value: str | None) -> str | None:
        if not value:
            return None
        from sqlglot.dialects.dialect import Dialect

        try:
            Dialect.get_or_raise(value)
        except ValueError as exc:
            raise ValueError(f"unknown SQL dialect {value!r} ({exc})") from None
        return value

    @model_validator(mode="after")
    def _one_owner_per_table(self) -> FootprintConfig:
        owners: dict[str, str] = {}
        for module, tables in self.modules.items():
            for table in tables:
                other = owners.setdefault(table.lower(), module)
                if other != module:
                    raise ValueError(f"table {table} is owned by both {other} and {module}; "
                                     "a table has one owner")
        return self

    def owner_of(self, table: str) -> str | None:
        key = table.lower()
        for module, tables in self.modules.items():
            if any(t.lower() == key for t in tables):
                return module
        return None

    def spelling(self, table: str) -> str | None:
        """The table's name as declared in the config (reports use it), None when undeclared."""
        key = table.lower()
        for tables in self.modules.values():
            for t in tables:
                if t.lower() == key:
                    return t
        return None

    def feature_modules(self, feature: str, known_modules: set[str] | None = None) -> list[str]:
        if feature in self.features:
            return list(self.features[feature])
        if feature in self.modules or (known_modules and feature in known_modules):
            return [feature]
        return []


def load_config(path: Path | None, *, required: bool = False) -> FootprintConfig:
    """Read and validate the config. A missing default file means "no config"; an explicit one must exist."""
    if path is None or not path.exists():
        if required and path is not None:
            raise ConfigError(f"{path}: file not found. Fix: pass an existing --config file, or omit --config "
                              "to infer ownership from who writes")
        return FootprintConfig()
    try:
        data = plain(parse_yaml(path.read_text())) or {}
    except YamlSyntaxError as exc:
        raise ConfigError(f"{path}: not valid YAML ({str(exc).splitlines()[0]}). Fix: correct the syntax") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping with keys modules/features/dialect. Fix: see the "
                          "example in config/footprint.yaml")
    try:
        return FootprintConfig.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or '(top)'}: {e['msg']}" for e in exc.errors())
        raise ConfigError(f"{path}: {problems}. Fix: modules map a module to a list of table names, features "
                          "map a feature to a list of module names") from None
