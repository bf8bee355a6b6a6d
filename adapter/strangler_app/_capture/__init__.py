"""Holds the sitecustomize that `strangler analyze capture` puts (alone) on the app's PYTHONPATH."""
