"""The inventory module: its blueprint and the tables it owns."""
