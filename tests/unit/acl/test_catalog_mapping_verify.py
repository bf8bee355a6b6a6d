"""Verify after reverse sync: a row the service wrote with seconds reaches legacy at the minute, and the two
must verify as equal (legacy cannot hold more), while a real difference in the minute or a field still shows."""
from datetime import UTC, datetime

from acl.catalog.mapping import PRODUCTS, legacy_domain, record_to_product_row, service_domain


def _service_row(**changes):
    row = {"id": 10_000_001, "sku": "SKU-1", "name": "Lamp", "description": None, "category": "HOME",
           "price_minor": 1999, "currency": "GBP", "status": "active",
           "created_at": datetime(2026, 12, 6, 18, 21, 7, 120000, tzinfo=UTC),
           "updated_at": datetime(2026, 12, 6, 18, 22, 50, 28347, tzinfo=UTC)}
    row.update(changes)
    return row


def test_a_service_write_reverse_synced_to_legacy_verifies_equal():
    service = _service_row()
    legacy = {**record_to_product_row(service), "PROD_ID": service["id"]}
    assert PRODUCTS.source_domain is legacy_domain and PRODUCTS.target_domain is service_domain
    assert legacy_domain(legacy) == service_domain(service)


def test_a_different_minute_or_field_still_differs():
    service = _service_row()
    legacy = {**record_to_product_row(service), "PROD_ID": service["id"]}
    later = _service_row(updated_at=datetime(2026, 12, 6, 18, 23, 1, tzinfo=UTC))
    assert legacy_domain(legacy) != service_domain(later)
    assert legacy_domain(legacy) != service_domain(_service_row(name="Desk"))
