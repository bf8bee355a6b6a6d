"""ASGI entry point: `uvicorn new_services.orders.main:app --port 8102`.

Settings come from the environment; a missing or invalid one stops start-up with a message naming the
variable and the fix (e.g. STRANGLER_SHADOW_KEY), instead of a traceback.
"""
from new_services.common.entry import build_app
from new_services.orders.app import create_app

app = build_app("orders", create_app)
