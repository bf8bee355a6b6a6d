"""mitmproxy addons of the façade, one concern each; `proxy/facade.py` wires them together in order."""
