"""The demo legacy monolith: a modular Flask + SQLAlchemy app with the coupling real monoliths have.

Modules (one blueprint each): catalog, customers, inventory, orders — all on ONE database.
"""
from legacy_monolith.app import create_app

__all__ = ["create_app"]
