"""Routers of the catalog service: native /v2 API and the legacy-compatible /api/products API."""
