"""The catalog module: its blueprint and the tables it owns."""
