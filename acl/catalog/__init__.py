"""Catalog anti-corruption layer: legacy PRODUCTS rows / Product JSON ↔ the catalog domain Product."""
