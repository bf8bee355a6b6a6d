"""Generic data migration between a source (legacy) and a target (service) database.

Knows tables, keys and row translators supplied as configuration — never a business domain.
"""
from strangler.migrate.engine import BackfillReport, backfill
from strangler.migrate.mapping import TableMapping

__all__ = ["BackfillReport", "TableMapping", "backfill"]
