"""The own-monolith guide's fixture apps, on their own (tests/fixtures/greenhouse: a Flask monolith under
gunicorn; tests/fixtures/greenhouse_plants: its plants module as an independently written FastAPI service
under uvicorn): they import nothing of the kit but `strangler_app`, the watering module reads the plants
table in hand-written SQL, every answer carries a fresh requestId, and the service's one deliberate
divergence (heightCm as a string) is really there."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from strangler_app import protocol

from strangler.procs import free_port, running

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
MONOLITH, SERVICE = FIXTURES / "greenhouse", FIXTURES / "greenhouse_plants"
KEY = "greenhouse-test-shadow-key-0123456789"
KIT_PACKAGES = {"strangler", "proxy", "load", "acl", "legacy_monolith", "new_services", "tests"}

pytestmark = pytest.mark.integration


def _env(**extra: str) -> dict[str, str]:
    # No PYTHONPATH: each app runs from its own folder, as it would from its own checkout and virtualenv.
    return {"PATH": str(Path(sys.executable).parent), **extra}


@pytest.mark.parametrize(("folder", "module", "env"), [
    (MONOLITH, "wsgi", {"GREENHOUSE_DB_URL": "sqlite:///{tmp}/gh.db"}),
    (SERVICE, "plants_service.main", {"PLANTS_DATABASE_URL": "sqlite:///{tmp}/pl.db", "STRANGLER_SHADOW_KEY": KEY}),
])
def test_the_apps_import_nothing_of_the_kit(tmp_path: Path, folder: Path, module: str, env: dict) -> None:
    code = (f"import sys, {module}; "
            f"print(sorted({{m.split('.')[0] for m in sys.modules}} & set({sorted(KIT_PACKAGES)!r})))")
    done = subprocess.run([sys.executable, "-c", code], cwd=folder, capture_output=True, text=True, timeout=60,
                          env=_env(**{k: v.format(tmp=tmp_path) for k, v in env.items()}))
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]", done.stdout


def test_monolith_and_service_under_real_servers(tmp_path: Path) -> None:
    legacy_port, service_port = free_port(), free_port()
    legacy_env = _env(GREENHOUSE_DB_URL=f"sqlite:///{tmp_path}/gh.db", GREENHOUSE_SEED_PLANTS="12")
    seeded = subprocess.run([sys.executable, "-m", "greenhouse.seed"], cwd=MONOLITH, env=legacy_env,
                            capture_output=True, text=True, timeout=60)
    assert seeded.returncode == 0 and "12 plants added" in seeded.stdout, seeded.stderr
    gunicorn = [sys.executable, "-m", "gunicorn", "-w", "1", "--no-control-socket",
                "-b", f"127.0.0.1:{legacy_port}", "wsgi:app"]
    uvicorn = [sys.executable, "-m", "uvicorn", "plants_service.main:app", "--host", "127.0.0.1",
               "--port", str(service_port), "--no-access-log"]
    service_env = _env(PLANTS_DATABASE_URL=f"sqlite:///{tmp_path}/pl.db", STRANGLER_SHADOW_KEY=KEY)
    with running(gunicorn, health_url=f"http://127.0.0.1:{legacy_port}/status", env=legacy_env, cwd=MONOLITH,
                 log_path=tmp_path / "legacy.log"), \
            running(uvicorn, health_url=f"http://127.0.0.1:{service_port}/status", env=service_env, cwd=SERVICE,
                    log_path=tmp_path / "service.log"), \
            httpx.Client(base_url=f"http://127.0.0.1:{legacy_port}", timeout=10) as legacy, \
            httpx.Client(base_url=f"http://127.0.0.1:{service_port}", timeout=10) as service:
        one, two = legacy.get("/api/v1/plants/PL-0003"), legacy.get("/api/v1/plants/PL-0003")
        assert one.status_code == 200 and one.json()["data"]["plantId"] == "PL-0003"
        assert one.json()["data"] == two.json()["data"]
        assert one.json()["meta"]["requestId"] != two.json()["meta"]["requestId"]  # the nondeterministic field

        missing = legacy.get("/api/v1/plants/PL-9999")
        assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"

        # Cross-module raw SQL: a schedule shows its plant's name read from the plants table; a change made
        # through the plants module shows up there.
        assert legacy.get("/api/v1/schedules/WS-0003").json()["data"]["bed"] == one.json()["data"]["bed"]
        assert legacy.patch("/api/v1/plants/PL-0003", json={"bed": "B9"}).status_code == 200
        assert legacy.get("/api/v1/schedules/WS-0003").json()["data"]["bed"] == "B9"

        # The same plant created on both sides: one field differs, the rest of the contract matches.
        plant = {"commonName": "Fig 100", "species": "Ficus carica", "bed": "B1", "heightCm": 64.7,
                 "plantedOn": "2025-04-01"}
        old, new = legacy.post("/api/v1/plants", json=plant), service.post("/api/v1/plants", json=plant)
        assert old.status_code == new.status_code == 201, (old.text, new.text)
        old_data, new_data = old.json()["data"], new.json()["data"]
        assert old_data["heightCm"] == 64.7 and new_data["heightCm"] == "64.7"  # the deliberate divergence
        differing = {k for k in old_data if old_data[k] != new_data.get(k)} | (new_data.keys() - old_data.keys())
        assert differing == {"plantId", "heightCm"}, (old_data, new_data)  # plantId: each side's own next id
        assert service.get("/api/v1/plants/PL-4242").json()["error"]["code"] == "not_found"

        # The service has the adapter: a signed dry-run probe is acknowledged, an unsigned one refused.
        probe = protocol.sign(KEY, "POST", protocol.PROBE_PATH, b"")
        answer = service.post(protocol.PROBE_PATH, headers={protocol.HEADER: probe})
        assert answer.status_code == 200
        assert protocol.ack_valid(KEY, probe, 200, answer.headers[protocol.ACK_HEADER])
        assert service.post(protocol.PROBE_PATH).status_code == 403
