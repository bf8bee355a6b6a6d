"""ASGI entry point: `uvicorn new_services.orders.main:app --port 8102`.

Settings come from the environment; a missing or invalid one stops start-up with a message naming the
variable and the fix (e.g. STRANGLER_SHADOW_KEY), instead of a traceback.
"""
from __future__ import annotations

import sys

from new_services.common.settings import SettingsError
from new_services.orders.app import create_app

try:
    app = create_app()
except SettingsError as exc:
    print(f"orders service cannot start.\n{exc}", file=sys.stderr)
    raise SystemExit(2) from None
