"""Orders anti-corruption layer: legacy ORDERS/ORD_LINES rows and Order JSON ↔ the orders domain."""
