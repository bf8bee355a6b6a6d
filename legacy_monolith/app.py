"""The application factory: one Flask app, one blueprint per business module, one database."""
from __future__ import annotations

import os
import time
from collections.abc import Mapping
from typing import Any

from flask import Flask
from flask.json.provider import DefaultJSONProvider
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import sessionmaker
from strangler_app.flask_identity import RemoteIdentity
from strangler_app.identity import KEY_ENV as IDENTITY_KEY_ENV

from legacy_monolith.catalog.views import bp as catalog_bp
from legacy_monolith.conventions import load_zone, server_time
from legacy_monolith.customers.auth import SECRET_KEY_ENV
from legacy_monolith.customers.auth import bp as auth_bp
from legacy_monolith.customers.views import bp as customers_bp
from legacy_monolith.db import DEFAULT_DATABASE_URL, init_db, make_engine, writer
from legacy_monolith.inventory.views import bp as inventory_bp
from legacy_monolith.openapi import build_openapi
from legacy_monolith.orders.views import bp as orders_bp
from legacy_monolith.validation import IdConverter
from legacy_monolith.web import Sessions, close_session, db, register_error_handlers, zone


def _init_db_once(engine: Engine) -> None:
    """Several gunicorn workers may race to create the schema; the loser retries and finds it there."""
    for attempt in range(3):
        try:
            init_db(engine)
            return
        except DBAPIError:
            if attempt == 2:
                raise
            time.sleep(0.2 * (attempt + 1))


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the monolith. Config keys (else env): LEGACY_DATABASE_URL, LEGACY_TZ, LEGACY_CREATE_TABLES,
    SECRET_KEY (env LEGACY_SECRET_KEY; no default: unset, login answers 503 and orders stay closed),
    STRANGLER_IDENTITY_KEY (env too; set, the remote-identity endpoint is served)."""
    app = Flask("legacy_monolith")
    app.config.update(
        LEGACY_DATABASE_URL=os.environ.get("LEGACY_DATABASE_URL", DEFAULT_DATABASE_URL),
        LEGACY_TZ=os.environ.get("LEGACY_TZ", "Europe/London"),
        LEGACY_CREATE_TABLES=True,
        JSON_SORT_KEYS=False,
        SECRET_KEY=os.environ.get(SECRET_KEY_ENV) or None,
        SESSION_COOKIE_SAMESITE="Lax",
        STRANGLER_IDENTITY_KEY=os.environ.get(IDENTITY_KEY_ENV) or None,
    )
    app.config.update(config or {})
    if isinstance(app.json, DefaultJSONProvider):  # (Flask's own; an app-set provider keeps its order)
        app.json.sort_keys = False  # keep the legacy key order
    engine = make_engine(app.config["LEGACY_DATABASE_URL"])
    if app.config["LEGACY_CREATE_TABLES"]:
        _init_db_once(engine)
    app.extensions["legacy_monolith"] = Sessions(
        read=sessionmaker(bind=engine, expire_on_commit=False),
        write=sessionmaker(bind=writer(engine), expire_on_commit=False),
        zone=load_zone(app.config["LEGACY_TZ"]),
    )
    app.extensions["legacy_monolith.engine"] = engine
    app.teardown_appcontext(close_session)
    register_error_handlers(app)
    app.url_map.converters["id"] = IdConverter  # before the blueprints: their routes use <id:…>
    for blueprint in (auth_bp, catalog_bp, customers_bp, inventory_bp, orders_bp):
        app.register_blueprint(blueprint)
    if app.config["STRANGLER_IDENTITY_KEY"]:
        # the façade asks "who is this caller?" for features whose service needs the user (identity: remote).
        # Only with the key: stacks that move no logged-in feature run without one; a façade that asks anyway
        # gets no answer and fails closed (503), never anonymous.
        RemoteIdentity(app, key=app.config["STRANGLER_IDENTITY_KEY"])
    contract = build_openapi()

    @app.get("/healthz")
    def healthz():
        db().execute(text("SELECT 1"))
        return {"Status": "OK", "Service": "legacy_monolith", "ServerTime": server_time(zone())}

    @app.get("/openapi.json")
    def openapi():
        return contract

    return app
