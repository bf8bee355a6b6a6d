"""The façade: route table, flips and ledger (control plane) and the mitmproxy addons (data plane).

Generic: it knows upstreams, features, routes and states — never a demo domain."""
