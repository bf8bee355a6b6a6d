"""Holds the sitecustomize that `strangler analyze capture` puts on PYTHONPATH."""
