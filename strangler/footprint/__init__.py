"""SQL footprint analysis: which tables each module of a monolith reads and writes, and what couples them.

Capture (the app-side adapter's `strangler_app.sqlcapture`; `gunicorn_hook`) or read existing logs (`readers`,
`pglog`), normalise and de-duplicate
statements (`normalise`), parse each distinct shape once with sqlglot (`sqlfacts`), aggregate per module and
endpoint (`analysis`), render (`report`), and gate flips on it (`gate`). `translate` ports SQL between dialects.
"""
