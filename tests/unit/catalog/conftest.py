"""An in-process catalog app on a temporary SQLite file, with a fixed availability source."""
from collections.abc import Iterable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from new_services.catalog.app import create_app
from new_services.catalog.settings import CatalogSettings

SHADOW_KEY = "unit-test-shadow-key-0123456789"


class FixedAvailability:
    """Stands in for the legacy inventory (an outside system); every product has 7 units."""

    def available(self, product_ids: Iterable[int], *, fresh: bool = False) -> dict[int, int]:
        return dict.fromkeys(product_ids, 7)

    def close(self) -> None:
        pass


@pytest.fixture
def settings(tmp_path: Path) -> CatalogSettings:
    return CatalogSettings(shadow_key=SHADOW_KEY, database_url=f"sqlite:///{tmp_path}/catalog.db",
                           var_dir=tmp_path)


@pytest.fixture
def client(settings: CatalogSettings) -> Iterator[TestClient]:
    with TestClient(create_app(settings, availability=FixedAvailability())) as test_client:
        yield test_client
