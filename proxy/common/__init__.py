"""Small helpers the whole kit shares, each written once: UTC timestamps, durable file writes, "did you mean".

Why a package of its own: the façade (proxy/), the operator CLI (strangler/) and the benchmarks (load/) all
need them, and the CLI may import the façade but never the other way round, so they live at the bottom.
"""
