"""gunicorn config module: `STRANGLER_SQL_CAPTURE=var/footprint/capture.jsonl gunicorn -c
python:strangler_app.sqlcapture_gunicorn your.wsgi:app` captures every SQL statement of every worker.

Installing in the master (at config load) covers preloaded apps; `post_fork` covers the rest — the listener is
class-level, so either way every Engine the workers create is observed. Keep your other gunicorn settings on
the command line, or call `strangler_app.sqlcapture.install()` from your own gunicorn.conf.py instead.
"""
from __future__ import annotations

from typing import Any

from strangler_app import sqlcapture

sqlcapture.install()


def post_fork(server: Any, worker: Any) -> None:  # gunicorn hook signature
    sqlcapture.install()
