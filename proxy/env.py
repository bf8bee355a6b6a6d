"""The data plane's runtime folder, from the environment its launcher sets.

`strangler up` gives every process STRANGLER_VAR_DIR (the project's var/), and the CLI exports the same for
its own process, so the façade, its admin API and the CLI read one ledger and one parity store. A façade
started by hand without it uses ./var. proxy/ never reads the operator CLI's settings (it must not import
strangler/): this variable is the whole interface.
"""
from __future__ import annotations

import os
from pathlib import Path

VAR_DIR_ENV = "STRANGLER_VAR_DIR"


def var_dir() -> Path:
    return Path(os.environ.get(VAR_DIR_ENV) or "var")
