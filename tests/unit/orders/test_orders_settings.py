"""Settings fail fast with a fix-it message; URLs come from the documented variables."""
import subprocess
import sys

import pytest

from new_services.common.settings import SettingsError
from new_services.orders.settings import get_orders_settings

KEY = "k" * 32
IDENTITY_KEY = "i" * 32


@pytest.fixture(autouse=True)
def _identity_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STRANGLER_IDENTITY_KEY", IDENTITY_KEY)


def test_identity_key_is_required_and_long(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STRANGLER_SHADOW_KEY", KEY)
    monkeypatch.delenv("STRANGLER_IDENTITY_KEY")
    with pytest.raises(SettingsError, match="STRANGLER_IDENTITY_KEY is required"):
        get_orders_settings()
    monkeypatch.setenv("STRANGLER_IDENTITY_KEY", "short")
    with pytest.raises(SettingsError, match="STRANGLER_IDENTITY_KEY"):
        get_orders_settings()


def test_shadow_key_is_required(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("STRANGLER_SHADOW_KEY", raising=False)
    with pytest.raises(SettingsError, match="STRANGLER_SHADOW_KEY is required"):
        get_orders_settings()


def test_urls_and_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STRANGLER_SHADOW_KEY", KEY)
    for name in ("LEGACY_BASE_URL", "CATALOG_API_URL", "ORDERS_DATABASE_URL", "ORDERS_TEST_FAULTS", "ORDERS_ID_START"):
        monkeypatch.delenv(name, raising=False)
    settings = get_orders_settings()
    assert settings.legacy_base_url == "http://127.0.0.1:5000"
    assert settings.resolved_catalog_url == settings.legacy_base_url
    assert settings.resolved_database_url.endswith("/orders.db") and not settings.test_faults
    assert settings.id_start == 10_000_000
    monkeypatch.setenv("LEGACY_BASE_URL", "http://127.0.0.1:5999")
    monkeypatch.setenv("CATALOG_API_URL", "http://127.0.0.1:8101")
    settings = get_orders_settings()
    assert (settings.legacy_base_url, settings.resolved_catalog_url) == ("http://127.0.0.1:5999",
                                                                         "http://127.0.0.1:8101")


def test_service_refuses_to_start_without_key() -> None:
    env = {"PATH": "/usr/bin:/bin"}
    result = subprocess.run([sys.executable, "-c", "import new_services.orders.main"], check=False, env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "STRANGLER_SHADOW_KEY is required" in result.stderr and "Traceback" not in result.stderr


def test_remote_legacy_url_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    from new_services.orders.app import legacy_collaborators
    monkeypatch.setenv("STRANGLER_SHADOW_KEY", KEY)
    monkeypatch.setenv("LEGACY_BASE_URL", "http://192.0.2.10:5000")
    with pytest.raises(ValueError, match="not a loopback"):
        legacy_collaborators(get_orders_settings())


def test_id_start_is_validated(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STRANGLER_SHADOW_KEY", KEY)
    monkeypatch.setenv("ORDERS_ID_START", "500")
    assert get_orders_settings().id_start == 500
    monkeypatch.setenv("ORDERS_ID_START", "0")
    with pytest.raises(SettingsError, match="ORDERS_ID_START"):
        get_orders_settings()
