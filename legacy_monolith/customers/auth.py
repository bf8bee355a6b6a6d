"""Customer login, the legacy way: email + password checked against CUSTOMERS.PWD_HASH, a Flask session cookie.

The session holds only `user_id` (the CustomerId): that is what strangler_app's RemoteIdentity reads by default
when the façade asks "who is this caller?" for a feature whose service needs to know. The cookie is signed
with LEGACY_SECRET_KEY, which has no default: without it nobody can log in (login answers 503 with the fix),
so a forgotten key never means a guessable one.
"""
from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from flask import Blueprint, current_app, session
from pydantic import Field
from sqlalchemy import func, select
from werkzeug.security import check_password_hash

from legacy_monolith.customers.models import Customer
from legacy_monolith.validation import LegacyBody
from legacy_monolith.web import LegacyError, db, parse_body

SECRET_KEY_ENV = "LEGACY_SECRET_KEY"
SESSION_USER = "user_id"
LOGIN_PATH = "/api/login"
bp = Blueprint("auth", __name__, url_prefix="/api")


class LoginBody(LegacyBody):
    Email: str = Field(min_length=3, max_length=254)
    Password: str = Field(min_length=1, max_length=128)


def current_customer_id() -> int | None:
    """The logged-in CustomerId, or None (no cookie, a forged one, or no secret key configured)."""
    value = session.get(SESSION_USER)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def login_required(view: Callable[..., Any]) -> Callable[..., Any]:
    """401 in the legacy envelope unless a customer is logged in (checked before the body is read)."""

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if current_customer_id() is None:
            raise LegacyError(401, "LOGIN_REQUIRED",
                              f"log in first: POST {LOGIN_PATH} with Email and Password, then send its cookie")
        return view(*args, **kwargs)

    return wrapper


def _require_secret_key() -> None:
    if not current_app.secret_key:
        raise LegacyError(503, "LOGIN_UNAVAILABLE", f"{SECRET_KEY_ENV} is not set, so no session can be signed. "
                          f"Fix: set {SECRET_KEY_ENV} (a long random value) in the monolith's environment")


@bp.post("/login")
def login():
    _require_secret_key()
    body = parse_body(LoginBody)
    customer = db().scalars(select(Customer).where(func.lower(Customer.email) == body.Email.lower())).first()
    # one message for an unknown email and a wrong password: the answer must not tell which emails exist
    if customer is None or not customer.password_hash or not check_password_hash(customer.password_hash,
                                                                                 body.Password):
        raise LegacyError(401, "INVALID_CREDENTIALS", "email or password is wrong")
    session.clear()
    session[SESSION_USER] = customer.id
    return {"Success": True, "CustomerId": customer.id, "Email": customer.email}


@bp.post("/logout")
def logout():
    session.clear()
    return {"Success": True}
