"""The catalog service: products as the new domain sees them, plus the legacy-compatible catalog API."""
