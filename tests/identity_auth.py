"""Logged-in test clients for the orders endpoints (issue 24): the monolith wants its session cookie, a
service called directly wants the façade's signed X-Strangler-Identity header (fresh per request: it is
bound to method + path and single-use)."""
from __future__ import annotations

from collections.abc import Generator

import httpx
from strangler_app.identity import HEADER, Principal, sign

#: test-only keys and the seeded customers' password (the stack generates real ones per install)
IDENTITY_KEY = "test-identity-key-0123456789-abcdefghij"
LEGACY_SECRET_KEY = "test-legacy-session-key-0123456789"
PASSWORD = "test-customer-password"
#: what a test monolith / service process needs in its environment for logins to work
LEGACY_ENV = {"LEGACY_SECRET_KEY": LEGACY_SECRET_KEY, "LEGACY_SEED_PASSWORD": PASSWORD,
              "STRANGLER_IDENTITY_KEY": IDENTITY_KEY}
SERVICE_ENV = {"STRANGLER_IDENTITY_KEY": IDENTITY_KEY}


def seeded_email(customer_id: int) -> str:
    return f"customer{customer_id}@example.com"


class SignedIdentity(httpx.Auth):
    """httpx auth that signs every request as `user_id`, as the façade does for identity: remote."""

    def __init__(self, user_id: int | str, key: str = IDENTITY_KEY) -> None:
        self.principal, self.key = Principal(str(user_id)), key

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        path = request.url.raw_path.split(b"?", 1)[0].decode("latin-1")
        request.headers[HEADER] = sign(self.key, self.principal, method=request.method, path=path)
        yield request


def log_in(client: httpx.Client, email: str, password: str = PASSWORD) -> int:
    """Log an httpx client in on the monolith (its cookie jar keeps the session); the CustomerId."""
    answer = client.post("/api/login", json={"Email": email, "Password": password})
    assert answer.status_code == 200, answer.text
    return answer.json()["CustomerId"]
