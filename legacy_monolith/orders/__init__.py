"""The orders module: its blueprint and the tables it owns."""
