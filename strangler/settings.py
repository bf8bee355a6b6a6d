"""Kit-wide settings read from the environment (prefix STRANGLER_), overridable by CLI flags.

Runtime files live under `var_dir` (git-ignored): SQLite databases, logs, pid files, stores, ledger.
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict


class KitSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="STRANGLER_", extra="ignore")

    var_dir: Path = Path("var")
    stack_file: Path = Path("config/stack.yaml")
    routes_file: Path = Path("config/routes.yaml")

    @property
    def log_dir(self) -> Path:
        return self.var_dir / "logs"

    @property
    def run_dir(self) -> Path:
        return self.var_dir / "run"


@lru_cache(maxsize=1)
def get_settings() -> KitSettings:
    return KitSettings()
