"""WSGI entry point for gunicorn: `gunicorn legacy_monolith.wsgi:app`."""
from legacy_monolith.app import create_app

app = create_app()
