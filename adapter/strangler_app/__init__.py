"""strangler-app-adapter: what a team's own app runs for the strangler-fig kit (Python >= 3.8, stdlib only at
import; framework parts import their framework lazily).

- strangler_app.protocol  the signed shadow header, the acknowledgement, the replay guard (one definition)
- strangler_app.asgi      DryRunMiddleware for FastAPI / Starlette / any ASGI app
- strangler_app.wsgi      DryRunMiddleware for Flask / any WSGI app
- strangler_app.sqla      SQLAlchemy hook: a dry-run request's sessions roll back
- strangler_app.sqlcapture  SQL capture for `strangler analyze` (one JSON line per statement)
- strangler_app.identity  remote identity: the signed X-Strangler-Identity header, Principal, the endpoint proof
- strangler_app.flask_identity  RemoteIdentity: the monolith answers "who is this caller?" (Flask, Flask-Login)
- strangler_app.fastapi_identity  IdentityMiddleware, CurrentUser / MaybeUser for FastAPI services
"""
from __future__ import annotations

from strangler_app.protocol import ACK_HEADER, HEADER, PROBE_PATH
from strangler_app.scope import is_dry_run

__all__ = ["ACK_HEADER", "HEADER", "PROBE_PATH", "is_dry_run"]
__version__ = "0.1.0"
