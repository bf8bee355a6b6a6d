"""Browser sessions of the dashboard: the admin token is typed once and exchanged for a session cookie.

Why server-side sessions rather than the token in a cookie: the token never sits in the browser (a stolen
cookie dies at logout, idle timeout or façade restart, the token does not), and logout really revokes. The
cookie holds a random id; we keep only its SHA-256, so the table itself cannot be replayed. Each session has
its own CSRF token that the page sends back in a header on every state-changing call (SameSite=Strict is
the first line of defence, the header the second).

Failed logins are slowed down, never turned into a lockout: the admin listener is loopback-only, so every
local process shares one address, and a refusal per address would let any of them lock the operator out.
The right token is always accepted at once. A wrong one is answered after a delay that doubles with the
recent failures from that address (base_delay_s .. max_delay_s, forgotten after failure_window_s), and at
most `max_waiting` wrong attempts per address are held at a time (more get 429 at once), which bounds the
work a guesser can queue. The real protection is the token itself (at least 16 characters).
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
                 max_sessions: int = 64, failure_window_s: float = 60.0, base_delay_s: float = 0.25,
                 max_delay_s: float = 4.0, max_waiting: int = 16, clock: Callable[[], float] = time.monotonic):
        self._token = token.encode()
        self.idle_s, self.max_age_s, self.max_sessions = idle_s, max_age_s, max_sessions
        self.failure_window_s, self.base_delay_s, self.max_delay_s = failure_window_s, base_delay_s, max_delay_s
        self.max_waiting = max_waiting
        self._clock = clock
        self._sessions: OrderedDict[str, Session] = OrderedDict()  # sha256(cookie) -> session, oldest first
        self._failures: dict[str, deque[float]] = {}
        self._waiting: dict[str, int] = {}  # client -> wrong attempts being delayed right now

    # ------------------------------------------------------------------ login
    def token_matches(self, given: str) -> bool:
        return hmac.compare_digest(given.encode(), self._token)

    def login_failed(self, client: str) -> float | None:
        """Record a wrong token from `client`: seconds to wait before answering it, or None when
        `max_waiting` of its wrong attempts are already waiting (answer 429 at once). Pair with `answered`."""
        recent = self._failures.setdefault(client, deque(maxlen=32))
        while recent and recent[0] <= self._clock() - self.failure_window_s:
            recent.popleft()
        recent.append(self._clock())
        if len(self._failures) > 1000:  # bounded: forget the oldest clients
            self._failures.pop(next(iter(self._failures)))
        if self._waiting.get(client, 0) >= self.max_waiting:
            return None
        self._waiting[client] = self._waiting.get(client, 0) + 1
        return min(self.base_delay_s * 2 ** (len(recent) - 1), self.max_delay_s)

    def answered(self, client: str) -> None:
        """A delayed wrong attempt of `client` has been answered."""
        left = self._waiting.get(client, 0) - 1
        if left > 0:
            self._waiting[client] = left
        else:
            self._waiting.pop(client, None)

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
        return given is not None and given != "" and hmac.compare_digest(given.encode(), session.csrf.encode())

    def __len__(self) -> int:
        return len(self._sessions)


def _digest(cookie: str) -> str:
    return hashlib.sha256(cookie.encode()).hexdigest()
