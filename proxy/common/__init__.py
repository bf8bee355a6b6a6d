"""Small helpers the whole kit shares, each written once: UTC timestamps (clock), durable file writes (files),
"did you mean" (suggest), YAML config files with line numbers and ${NAME} expansion (yamlio), an ASGI request
body (asgi), an addon's background task (background).

Why a package of its own: the façade (proxy/), the operator CLI (strangler/) and the benchmarks (load/) all
need them, and the CLI may import the façade but never the other way round, so they live at the bottom.
"""
