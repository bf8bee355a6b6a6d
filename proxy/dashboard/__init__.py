"""The migration dashboard served by the façade's admin listener (see proxy.dashboard.web)."""
