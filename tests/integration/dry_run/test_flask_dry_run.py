"""The adapter in a third-party Flask app (tests/fixtures/clinic_flask.py: plain Flask + a SQLAlchemy
scoped_session, under a real gunicorn): the WSGI middleware and the SQLAlchemy hook roll a signed write back
— both of its transactions — and acknowledge it; forged and replayed signatures are refused; unsigned writes
commit."""
from __future__ import annotations

import json
import sqlite3
import sys
from pathlib import Path

import httpx
import pytest
from strangler_app import protocol

from strangler.procs import free_port, running
from tests.integration.dry_run.conftest import FIXTURES, REPO, SHADOW_KEY

pytestmark = pytest.mark.integration


def _count(db: Path) -> int:
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT COUNT(*) FROM appointments").fetchone()[0]


def test_flask_app_with_the_adapter_rolls_signed_writes_back(tmp_path: Path) -> None:
    port, db = free_port(), tmp_path / "clinic.db"
    env = {"CLINIC_DATABASE_URL": f"sqlite:///{db}", "CLINIC_ADAPTER": "1", "STRANGLER_SHADOW_KEY": SHADOW_KEY,
           "PYTHONPATH": f"{FIXTURES}:{REPO}"}
    argv = [sys.executable, "-m", "gunicorn", "-w", "1", "-k", "gthread", "--threads", "4", "--no-control-socket",
            "-b", f"127.0.0.1:{port}", "clinic_flask:app"]
    url = f"http://127.0.0.1:{port}"
    with running(argv, health_url=f"{url}/appointments", env=env, cwd=FIXTURES, log_path=tmp_path / "clinic.log"), \
            httpx.Client(base_url=url, timeout=10) as client:
        body = json.dumps({"patient": "Ada", "slot": "09:30"}).encode()
        signature = protocol.sign(SHADOW_KEY, "POST", "/appointments", body)
        dry = client.post("/appointments", content=body, headers={protocol.HEADER: signature,
                                                                  "Content-Type": "application/json"})
        assert dry.status_code == 201 and dry.json() == {"patient": "Ada", "slot": "09:30"}, dry.text
        assert protocol.ack_valid(SHADOW_KEY, signature, 201, dry.headers[protocol.ACK_HEADER])
        assert _count(db) == 0

        for header in (signature, protocol.sign("not-our-key-0123456789", "POST", "/appointments", body)):
            refused = client.post("/appointments", content=body, headers={protocol.HEADER: header,
                                                                          "Content-Type": "application/json"})
            assert refused.status_code == 403 and protocol.ACK_HEADER not in refused.headers, refused.text
        assert _count(db) == 0

        probe = protocol.sign(SHADOW_KEY, "POST", protocol.PROBE_PATH, b"")
        answer = client.post(protocol.PROBE_PATH, headers={protocol.HEADER: probe})
        assert answer.status_code == 200 and protocol.ack_valid(SHADOW_KEY, probe, 200,
                                                                answer.headers[protocol.ACK_HEADER])
        assert client.post(protocol.PROBE_PATH).status_code == 403

        real = client.post("/appointments", content=body, headers={"Content-Type": "application/json"})
        assert real.status_code == 201 and protocol.ACK_HEADER not in real.headers
        assert _count(db) == 2  # the booking and its follow-up: an unsigned write commits as before
