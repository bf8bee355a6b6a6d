"""LEGACY_TZ is read once, from the services' settings, by both ACL mappings (validated, no secrets needed)."""
from __future__ import annotations

import pytest

from new_services.common.settings import SettingsError, legacy_tz


def test_default_set_and_invalid(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("STRANGLER_SHADOW_KEY", raising=False)   # the migration reads it without the secrets
    monkeypatch.delenv("LEGACY_TZ", raising=False)
    assert legacy_tz() == "Europe/London"
    monkeypatch.setenv("LEGACY_TZ", "America/New_York")
    assert legacy_tz() == "America/New_York"
    monkeypatch.setenv("LEGACY_TZ", "Mars/Olympus")
    with pytest.raises(SettingsError, match=r"LEGACY_TZ is invalid: .*unknown time zone 'Mars/Olympus'"):
        legacy_tz()


def test_both_mappings_use_it() -> None:
    import acl.catalog.mapping as catalog
    import acl.orders.mapping as orders

    assert catalog.legacy_tz is orders.legacy_tz is legacy_tz
