"""The customers module: its blueprint and the tables it owns."""
