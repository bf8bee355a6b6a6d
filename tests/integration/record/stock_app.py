"""A tiny shop for the replay tests: items read from one SQLite file (STOCK_DB), so a legacy process and a
candidate process started on the same file read the same data, as the demo's sync keeps a service in step.
STOCK_BUG=1 makes the candidate upper-case item 2's name: one real difference. Every answer carries the
current time (live noise). Run: gunicorn --chdir tests/integration/record stock_app:app."""
from __future__ import annotations

import os
import sqlite3
import time

from flask import Flask, abort, jsonify

app = Flask(__name__)


@app.get("/api/items/<int:item>")
def one_item(item: int):
    with sqlite3.connect(os.environ["STOCK_DB"]) as db:
        row = db.execute("SELECT name, price FROM items WHERE id = ?", (item,)).fetchone()
    if row is None:
        abort(404)
    name = row[0].upper() if os.environ.get("STOCK_BUG") == "1" and item == 2 else row[0]
    return jsonify(Id=item, Name=name, Price=row[1], ServerTime=time.time_ns())


@app.get("/healthz")
def healthz():
    return jsonify(status="ok")
