"""The data plane's runtime folder, as its launcher hands it over.

`strangler up` gives every process STRANGLER_VAR_DIR (the project's var/); the `strangler` CLI, which runs
data-plane code in its own process (ledger, parity store), installs its settings for the duration of a
command (`var_dir_from`), so a command outside any project fails instead of using ./var. A façade started by
hand without either uses ./var. proxy/ never imports the operator CLI: this is the whole interface.
"""
from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from pathlib import Path

VAR_DIR_ENV = "STRANGLER_VAR_DIR"
_resolver: Callable[[], Path] | None = None


def var_dir() -> Path:
    if _resolver is not None:
        return _resolver()
    return Path(os.environ.get(VAR_DIR_ENV) or "var")


@contextlib.contextmanager
def var_dir_from(resolver: Callable[[], Path]) -> Iterator[None]:
    """Within the block, var_dir() is `resolver()` (the launcher's own settings; it may raise)."""
    global _resolver
    previous, _resolver = _resolver, resolver
    try:
        yield
    finally:
        _resolver = previous
