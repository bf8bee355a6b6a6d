"""Shadow traffic and automatic rollback helpers of the façade (see proxy/addons/shadow.py, rollback.py)."""
