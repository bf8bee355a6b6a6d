"""Load mitmproxy's certificate store before any listener opens.

mitmproxy opens its listeners (Proxyserver.running) before TlsConfig.running loads the CA store, and the
façade's own addons (its admin API and /healthz among them) run before TlsConfig too. A request in that window
meets `certstore = None` in TlsConfig.request (AttributeError); an error logged during start-up makes mitmdump
exit. So a client that came early, after a health check that answered early, killed a starting façade (when
`confdir` is not set explicitly, mitmproxy loads the store only in TlsConfig.running; widest when the CA is
generated first). `configure` runs before any `running` hook: the store is loaded there, by the same call
TlsConfig.running makes (which then loads it again, harmlessly).
"""
from __future__ import annotations

from mitmproxy import ctx


class CertStoreFirst:
    def configure(self, updated: set[str]) -> None:
        tls = ctx.master.addons.get("tlsconfig")
        if tls is not None and getattr(tls, "certstore", None) is None:
            tls.configure({"confdir"})
