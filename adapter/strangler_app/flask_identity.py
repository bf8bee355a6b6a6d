"""Remote identity, legacy side: the monolith answers "who is this caller?" for the façade. Two lines:

    from strangler_app.flask_identity import RemoteIdentity
    RemoteIdentity(app)        # or RemoteIdentity(app, identify=fn, session_keys=("cart_id",))

`POST /__strangler/identity` (served by a thin WSGI wrapper around app.wsgi_app) refuses non-loopback callers
and calls without the façade's proof (X-Strangler-Identity-Request, signed with STRANGLER_IDENTITY_KEY), both
403. The façade sends the client's original Cookie and Authorization, so the app's own session and login
machinery (Flask's session, Flask-Login's user_loader / request_loader) decides, as for the real request.

Why a WSGI wrapper, not a view: the app's before_request hooks (CSRF checks on every POST, "login required
everywhere" redirects) would refuse or redirect the façade's call, and its after_request hooks and session
save could write (Flask-Login's remember cookie, a refreshed session). Here the request context is pushed
(session opened, user loaded lazily) but no hook runs and the session is never saved: a read-only bridge.
Flask and Flask-Login are imported lazily; the module itself is standard library only.
"""
from __future__ import annotations

import ipaddress
import json
import logging
from typing import Any, Callable, Dict, Iterable, Optional, Sequence, Tuple

from strangler_app.identity import (
    ENDPOINT,
    KEY_ENV,
    REQUEST_HEADER,
    Principal,
    check_key,
    check_request_proof,
    key_from_env,
)

log = logging.getLogger("strangler_app")
Identify = Callable[[], Optional[Principal]]
_PROOF_ENVIRON = "HTTP_" + REQUEST_HEADER.upper().replace("-", "_")
_STATUS = {200: "200 OK", 403: "403 Forbidden", 405: "405 Method Not Allowed", 500: "500 Internal Server Error"}


def is_loopback(address: Optional[str]) -> bool:
    if not address:
        return False
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    mapped = getattr(ip, "ipv4_mapped", None)
    return bool(ip.is_loopback or (mapped is not None and mapped.is_loopback))


def default_identify() -> Optional[Principal]:
    """Flask-Login's current_user when the app set Flask-Login up, else Flask's session["user_id"]."""
    from flask import current_app, session

    if getattr(current_app, "login_manager", None) is not None:
        from flask_login import current_user

        user = current_user._get_current_object()
        if user is None or not getattr(user, "is_authenticated", False):
            return None
        name = next((v for v in (getattr(user, a, None) for a in ("name", "username")) if isinstance(v, str)), None)
        roles = getattr(user, "roles", ()) or ()
        roles = tuple(r if isinstance(r, str) else str(getattr(r, "name", r)) for r in roles) \
            if isinstance(roles, (list, tuple, set, frozenset)) else ()
        return Principal(str(user.get_id()), name, roles)
    uid = session.get("user_id")
    if uid is None:
        return None
    name = session.get("user_name")
    return Principal(str(uid), name if isinstance(name, str) else None)


class RemoteIdentity:
    """Installs the identity endpoint on a Flask app (also `RemoteIdentity(identify=…).init_app(app)`)."""

    def __init__(self, app: Any = None, *, identify: Optional[Identify] = None, session_keys: Sequence[str] = (),
                 key: Optional[str] = None) -> None:
        if isinstance(session_keys, str):
            raise TypeError("session_keys must be a list of key names, not one string. Fix: "
                            "session_keys=(%r,)" % session_keys)
        self.identify: Identify = identify or default_identify
        self.session_keys = tuple(session_keys)
        self._key = key
        self.key = ""
        self.app: Any = None
        if app is not None:
            self.init_app(app)

    def init_app(self, app: Any) -> None:
        self.key = key_from_env() if self._key is None else self._key
        check_key(self.key)  # a missing/short key is a startup error, never a silent open endpoint
        self.app = app
        app.wsgi_app = _Endpoint(app.wsgi_app, self)
        app.extensions["strangler_identity"] = self

    # ------------------------------------------------------------------ the answer
    def answer(self, environ: Dict[str, Any]) -> Tuple[int, Dict[str, Any]]:
        """(status, JSON body) for one call to the endpoint."""
        if environ.get("REQUEST_METHOD", "GET").upper() != "POST":
            return 405, {"title": "method not allowed", "status": 405, "detail": "only POST %s" % ENDPOINT}
        original = environ.get("werkzeug.proxy_fix.orig") or {}
        peer = original.get("REMOTE_ADDR", environ.get("REMOTE_ADDR"))  # ProxyFix must not make it "loopback"
        if not is_loopback(peer):
            log.warning("strangler identity: refused a call from non-loopback %s", peer)
            return 403, {"title": "identity endpoint is loopback-only", "status": 403,
                         "detail": "only the strangler façade on this machine may call %s" % ENDPOINT}
        if not check_request_proof(self.key, environ.get(_PROOF_ENVIRON)):
            log.warning("strangler identity: refused a call without a valid %s proof", REQUEST_HEADER)
            return 403, {"title": "identity request refused", "status": 403,
                         "detail": "missing, stale or forged %s. Fix: the façade and this app must share %s, and "
                                   "their clocks must agree within 30 s" % (REQUEST_HEADER, KEY_ENV)}
        try:
            with self.app.request_context(environ):
                principal = self.identify()
                session = self._session_values()
        except Exception:  # the façade fails closed on a 500 (503 to its client), never anonymous
            log.exception("strangler identity: identify() failed")
            return 500, {"title": "identity lookup failed", "status": 500,
                         "detail": "the app's identify() raised; see the monolith's log"}
        if principal is not None and not isinstance(principal, Principal):
            log.error("strangler identity: identify() returned %s, not a Principal or None", type(principal).__name__)
            return 500, {"title": "identity lookup failed", "status": 500,
                         "detail": "identify() must return strangler_app.identity.Principal or None"}
        body = (principal or Principal(None)).to_json()
        body["session"] = dict(body["session"], **session)
        return 200, body

    def _session_values(self) -> Dict[str, Any]:
        """The whitelisted legacy-session values that serialise to JSON (read only: never saved)."""
        if not self.session_keys:
            return {}
        from flask import session

        values: Dict[str, Any] = {}
        for name in self.session_keys:
            if name in session:
                try:
                    json.dumps(session[name])
                except (TypeError, ValueError):
                    log.warning("strangler identity: session key %r is not JSON-serialisable; not shared", name)
                    continue
                values[name] = session[name]
        return values


class _Endpoint:
    """WSGI wrapper: serves ENDPOINT itself, passes everything else to the app unchanged."""

    def __init__(self, inner: Callable[..., Iterable[bytes]], bridge: RemoteIdentity) -> None:
        self.inner, self.bridge = inner, bridge

    def __call__(self, environ: Dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("PATH_INFO") != ENDPOINT:
            return self.inner(environ, start_response)
        status, body = self.bridge.answer(environ)
        data = json.dumps(body, separators=(",", ":")).encode("utf-8")
        ctype = "application/json" if status == 200 else "application/problem+json"
        start_response(_STATUS[status], [("Content-Type", ctype), ("Content-Length", str(len(data))),
                                         ("Cache-Control", "no-store")])
        return [data]
