"""Kit-wide settings read from the environment (prefix STRANGLER_), overridable by CLI flags.

Runtime files live under `var_dir` (git-ignored): SQLite databases, logs, pid files, stores, ledger.
"""
from __future__ import annotations

import os
import shutil
from functools import lru_cache
from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict


class KitSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="STRANGLER_", extra="ignore")

    var_dir: Path = Path("var")
    stack_file: Path = Path("config/stack.yaml")
    routes_file: Path | None = None  # STRANGLER_ROUTES_FILE; default: the live table <var_dir>/routes.yaml
    routes_template: Path = Path("config/routes.yaml")

    @property
    def log_dir(self) -> Path:
        return self.var_dir / "logs"

    @property
    def run_dir(self) -> Path:
        return self.var_dir / "run"

    def routes_path(self) -> Path:
        """The live route table that flips edit: STRANGLER_ROUTES_FILE, else <var_dir>/routes.yaml, created
        from the template (config/routes.yaml) on first use so the template itself is never edited."""
        if self.routes_file is not None:
            return self.routes_file
        live = self.var_dir / "routes.yaml"
        if not live.exists() and self.routes_template.is_file():
            init_routes(self.routes_template, live)
        return live


def init_routes(template: Path, live: Path, *, force: bool = False) -> bool:
    """Copy the template to the live table (atomically); False when the live table exists and not `force`."""
    if live.exists() and not force:
        return False
    live.parent.mkdir(parents=True, exist_ok=True)
    tmp = live.with_name(live.name + ".tmp")
    shutil.copyfile(template, tmp)
    os.replace(tmp, live)
    return True


@lru_cache(maxsize=1)
def get_settings() -> KitSettings:
    return KitSettings()
