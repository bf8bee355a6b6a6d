"""Browser sessions of the dashboard: the admin token is typed once and exchanged for a session cookie.

Why server-side sessions rather than the token in a cookie: the token never sits in the browser (a stolen
cookie dies at logout, idle timeout or façade restart, the token does not), and logout really revokes. The
cookie holds a random id; we keep only its SHA-256, so the table itself cannot be replayed. Each session has
its own CSRF token that the page sends back in a header on every state-changing call (SameSite=Strict is
the first line of defence, the header the second). Failed logins are throttled per client address.
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass

COOKIE_NAME = "strangler_session"
CSRF_HEADER = "X-CSRF-Token"


@dataclass(slots=True)
class Session:
    csrf: str
    created: float
    last_seen: float


class Sessions:
    def __init__(self, token: str, *, idle_s: float = 3600.0, max_age_s: float = 12 * 3600.0,
                 max_sessions: int = 64, max_failures: int = 10, failure_window_s: float = 60.0,
                 clock: Callable[[], float] = time.monotonic):
        self._token = token.encode()
        self.idle_s, self.max_age_s, self.max_sessions = idle_s, max_age_s, max_sessions
        self.max_failures, self.failure_window_s = max_failures, failure_window_s
        self._clock = clock
        self._sessions: OrderedDict[str, Session] = OrderedDict()  # sha256(cookie) -> session, oldest first
        self._failures: dict[str, deque[float]] = {}

    # ------------------------------------------------------------------ login
    def token_matches(self, given: str) -> bool:
        return hmac.compare_digest(given.encode(), self._token)

    def throttled(self, client: str) -> bool:
        """True while `client` has had too many failed logins within the failure window."""
        recent = self._recent_failures(client)
        return len(recent) >= self.max_failures

    def login_failed(self, client: str) -> None:
        self._recent_failures(client).append(self._clock())
        if len(self._failures) > 1000:  # bounded: forget the oldest clients
            self._failures.pop(next(iter(self._failures)))

    def _recent_failures(self, client: str) -> deque[float]:
        recent = self._failures.setdefault(client, deque(maxlen=self.max_failures))
        while recent and recent[0] <= self._clock() - self.failure_window_s:
            recent.popleft()
        return recent

    # ------------------------------------------------------------------ sessions
    def create(self) -> tuple[str, Session]:
        """A new session: (cookie value, session). The oldest session is evicted beyond `max_sessions`."""
        cookie = secrets.token_urlsafe(32)
        now = self._clock()
        session = Session(csrf=secrets.token_urlsafe(32), created=now, last_seen=now)
        self._sessions[_digest(cookie)] = session
        while len(self._sessions) > self.max_sessions:
            self._sessions.popitem(last=False)
        return cookie, session

    def get(self, cookie: str | None) -> Session | None:
        """The live session for this cookie value (touching it), or None if unknown or expired."""
        if not cookie:
            return None
        key = _digest(cookie)
        session = self._sessions.get(key)
        if session is None:
            return None
        now = self._clock()
        if now - session.last_seen > self.idle_s or now - session.created > self.max_age_s:
            del self._sessions[key]
            return None
        session.last_seen = now
        return session

    def drop(self, cookie: str | None) -> None:
        if cookie:
            self._sessions.pop(_digest(cookie), None)

    @staticmethod
    def csrf_ok(session: Session, given: str | None) -> bool:
        return bool(given) and hmac.compare_digest(given.encode(), session.csrf.encode())

    def __len__(self) -> int:
        return len(self._sessions)


def _digest(cookie: str) -> str:
    return hashlib.sha256(cookie.encode()).hexdigest()
