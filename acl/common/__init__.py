"""Conventions every legacy module shares (timestamps, money, flags) and the legacy HTTP client base."""
