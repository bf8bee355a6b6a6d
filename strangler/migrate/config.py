"""The project's config/migrations.yaml: feature → which mappings to run and which env vars hold the two
database URLs.

Example::

    plants:
      mapping: mappings.plants:PLANTS          # or a list of "module:ATTRIBUTE"
      source_env: LEGACY_DATABASE_URL
      source_default: "sqlite:///{var}/legacy.db"
      target_env: PLANTS_DATABASE_URL
      target_default: "sqlite:///{var}/plants.db"

Mapping modules are found in the project folder (the one holding strangler.yaml above the migrations file):
`mappings.plants` is `<project>/mappings/plants.py`; no PYTHONPATH needed (an installed module of that
name is used only when the project has none). A SQLite source must exist (it is never created empty); a
SQLite target's folder must exist, unless it is under the var dir, which the kit owns and creates.
`{var}` in a default is the project's var dir, as in stack files (`{var_dir}`, its older name, still works).
"""
from __future__ import annotations

import importlib
import os
import sys
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, field_validator
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from proxy.common.yamlio import YamlSyntaxError, parse_yaml, plain
from strangler.migrate.mapping import TableMapping
from strangler.project import MARKER


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

    @field_validator("source_default", "target_default")
    @classmethod
    def _placeholders_known(cls, value: str | None) -> str | None:
        if value is not None:
            _expand(value, Path("var"))
        return value

    _root: Path | None = PrivateAttr(None)  # where mapping modules are found (see project_root)

    def resolve_url(self, which: str, var_dir: Path) -> str:
        env, default = (self.source_env, self.source_default) if which == "source" else \
            (self.target_env, self.target_default)
        url = os.environ.get(env) or (_expand(default, var_dir) if default else None)
        if not url:
            raise MigrationConfigError(f"{which} database: set {env} (a SQLAlchemy URL) or give "
                                       f"{which}_default in the migrations file")
        _check_sqlite_file(which, url, env, var_dir)
        return url

    def load_mappings(self) -> list[TableMapping]:
        return [load_mapping(ref, self._root) for ref in self.mapping]


def _expand(default: str, var_dir: Path) -> str:
    """A *_default URL with {var} (or its older name {var_dir}) filled in; any other placeholder is an error."""
    try:
        return default.format(var=var_dir, var_dir=var_dir)
    except (KeyError, IndexError, ValueError) as exc:
        raise ValueError(f"{default!r} has an unknown placeholder or a stray brace ({exc}). Fix: use {{var}} "
                         f"(the project's var dir) and write a literal brace as {{{{ or }}}}") from None


def _check_sqlite_file(which: str, url: str, env: str, var_dir: Path) -> None:
    """A missing legacy file is a wrong path, not an empty legacy: say so instead of creating it. A target
    in a folder that does not exist is a typo too, except under var/ (the kit's own runtime folder)."""
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise MigrationConfigError(f"{which} database URL from {env} is not a SQLAlchemy URL ({exc}). "
                                   "Fix: write it like sqlite:////abs/path.db or postgresql+psycopg://…") from None
    if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.database == ":memory:" or \
            parsed.database.startswith("file:"):
        return
    path = Path(parsed.database).expanduser()
    if which == "source" and not path.is_file():
        raise MigrationConfigError(f"source database {path.resolve()} does not exist (from {env} or "
                                   f"source_default). Fix: point {env} at the legacy database file "
                                   f"(sqlite:////absolute/path.db); the kit never creates a source")
    folder = path.resolve().parent
    if which == "target" and not folder.is_dir():
        if folder.is_relative_to(Path(var_dir).resolve()):
            folder.mkdir(parents=True, exist_ok=True)
            return
        raise MigrationConfigError(f"target database folder {folder} does not exist (from {env} or "
                                   f"target_default). Fix: create it (mkdir -p {folder}) or point {env} elsewhere")


def project_root(config_path: Path) -> Path:
    """The project folder of a migrations file: the nearest folder above it holding strangler.yaml, else the
    file's own folder. Mapping refs resolve from here."""
    start = config_path.resolve().parent
    return next((d for d in (start, *start.parents) if (d / MARKER).is_file()), start)


def load_mapping(ref: str, root: Path | None = None) -> TableMapping:
    """`module:ATTRIBUTE`, the module looked up in `root` (the project) first, then among installed ones."""
    module_name, sep, attribute = ref.partition(":")
    if not sep or not module_name or not attribute:
        raise MigrationConfigError(f"mapping {ref!r} must look like 'package.module:ATTRIBUTE' "
                                   "(e.g. mappings.plants:PLANTS for <project>/mappings/plants.py)")
    where = f" in {root}" if root else ""
    try:
        module = _import_from(module_name, root)
    except ImportError as exc:
        raise MigrationConfigError(f"mapping {ref!r}: cannot import {module_name}{where} ({exc}). Fix: put the "
                                   f"module under the project folder as {module_name.replace('.', '/')}.py") from None
    except Exception as exc:  # noqa: BLE001 - the user's module failed while importing: one line, its location
        raise MigrationConfigError(f"mapping {ref!r}: importing {module_name} failed: {type(exc).__name__}: "
                                   f"{' '.join(str(exc).split())}{_where(exc)}. Fix: correct that module") from None
    mapping = getattr(module, attribute, None)
    if not isinstance(mapping, TableMapping):
        raise MigrationConfigError(f"mapping {ref!r}: {attribute} is not a TableMapping in {module_name} "
                                   f"({getattr(module, '__file__', '?')}). Fix: name the TableMapping object "
                                   "after the ':'")
    return mapping


def _import_from(module_name: str, root: Path | None) -> object:
    """Import with the project folder first on sys.path; a same-named module imported earlier from
    elsewhere (e.g. one of the kit's own packages) is refused rather than silently used."""
    top = module_name.split(".", 1)[0]
    if root is None or not ((root / top).is_dir() or (root / f"{top}.py").is_file()):
        return importlib.import_module(module_name)
    loaded = sys.modules.get(top)
    if loaded is not None:
        origin = Path(getattr(loaded, "__file__", None) or next(iter(getattr(loaded, "__path__", [])), "."))
        if not origin.resolve().is_relative_to(root.resolve()):
            raise ImportError(f"the name {top!r} is already taken by {origin}; rename the project's "
                              f"{top} folder")
    sys.path.insert(0, str(root))
    try:
        return importlib.import_module(module_name)
    finally:
        sys.path.remove(str(root))


def _where(exc: Exception) -> str:
    if isinstance(exc, SyntaxError) and exc.filename:
        return f" ({exc.filename}:{exc.lineno})"
    tb = exc.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    return f" ({tb.tb_frame.f_code.co_filename}:{tb.tb_lineno})" if tb is not None else ""


def load_config(path: Path) -> dict[str, FeatureMigration]:
    if not path.exists():
        raise MigrationConfigError(f"{path}: migrations file not found. Fix: pass --config or create it "
                                   "(format: docs/how-to/migrate-data.md; `strangler add mapping TABLE` writes one)")
    try:
        raw = plain(parse_yaml(path.read_text()))
    except YamlSyntaxError as exc:
        raise MigrationConfigError(f"{path}: invalid YAML: {exc}") from None
    if not isinstance(raw, dict):
        raise MigrationConfigError(f"{path}: expected a mapping of feature name → migration settings")
    features: dict[str, FeatureMigration] = {}
    root = project_root(path)
    for name, settings in raw.items():
        try:
            features[str(name)] = FeatureMigration.model_validate(settings)
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
            raise MigrationConfigError(f"{path}: feature {name!r}: {problems}") from None
        features[str(name)]._root = root
    return features


def feature_config(path: Path, feature: str) -> FeatureMigration:
    features = load_config(path)
    if feature not in features:
        known = ", ".join(sorted(features)) or "none"
        raise MigrationConfigError(f"{path}: no migration for feature {feature!r} (known: {known})")
    return features[feature]
