"""Routers of the orders service: native /v2/orders API and the legacy-compatible /api/orders API."""
