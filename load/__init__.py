"""Locust files and benchmarks: behaviour parity and load through the façade, ratios measured in one run."""
