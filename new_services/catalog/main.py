"""ASGI entry point: `uvicorn new_services.catalog.main:app --port 8101`.

Settings come from the environment; a missing or invalid one stops start-up with a message naming the
variable and the fix (e.g. STRANGLER_SHADOW_KEY), instead of a traceback.
"""
from new_services.catalog.app import create_app
from new_services.common.entry import build_app

app = build_app("catalog", create_app)
