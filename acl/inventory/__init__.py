"""Inventory stays in the monolith: translators and the client behind the orders service's Inventory port."""
