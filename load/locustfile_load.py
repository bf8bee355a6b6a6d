"""Locust load profile: the configured request mix through ONE base URL (legacy, façade or a service).

Run through `strangler load --host URL ...` (headless, bounded by --run-time and --max-requests, with
thresholds from load/thresholds.py deciding the exit code).
"""
from __future__ import annotations

from load import thresholds  # noqa: F401 - registers the exit-code thresholds
from load.locust_base import MixEntry, MixUser


class LoadUser(MixUser):
    """One request of the mix per task; success = the entry's expected statuses."""

    def play(self, entry: MixEntry) -> None:
        path, body = entry.render(self.rng, self.user_values if entry.login else None)
        with self.client.request(entry.method, path, name=entry.label, json=body, headers=entry.headers,
                                 catch_response=True) as resp:
            if entry.accepts(resp.status_code):
                resp.success()
            else:
                resp.failure(f"unexpected status {resp.status_code}")
