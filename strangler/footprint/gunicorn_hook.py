"""The demo's name for the adapter's gunicorn capture hook (strangler_app.sqlcapture_gunicorn, which a
team's app uses from its own virtualenv): `-c python:strangler.footprint.gunicorn_hook`."""
from __future__ import annotations

from strangler_app.sqlcapture_gunicorn import post_fork

__all__ = ["post_fork"]
