"""The dashboard's pages on the admin listener: login, logout, the page itself, its JSON and static files.

Security model (the admin listener binds loopback only; this adds browser-specific defences):
- the admin token is typed into a login form and exchanged for an HttpOnly, SameSite=Strict session cookie
  (proxy.dashboard.sessions); the token never appears in a URL, a cookie or the page;
- every state-changing call from the page carries the session's CSRF token in a header (POST /flip, see
  proxy/admin.py) or a form field (logout), and POSTs whose Origin/Sec-Fetch-Site say "another site" are
  refused before anything else;
- a strict Content-Security-Policy (no inline script or style, nothing from another origin) plus
  nosniff/frame-ancestors/same-origin referrers (no-referrer would make browsers send 'Origin: null'); the page
  builds its DOM with textContent only.
"""
from __future__ import annotations

import asyncio
import html
from importlib import resources
from string import Template
from urllib.parse import parse_qs

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from proxy.dashboard.data import DashboardData
from proxy.dashboard.sessions import COOKIE_NAME, CSRF_HEADER, Session, Sessions
from proxy.history.api import history_route

CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
       "form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
SECURITY_HEADERS = {"Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff",
                    "X-Frame-Options": "DENY", "Referrer-Policy": "same-origin",
                    "Cache-Control": "no-store", "Cross-Origin-Opener-Policy": "same-origin",
                    "Cross-Origin-Resource-Policy": "same-origin"}
STATIC = {"app.js": "text/javascript; charset=utf-8", "app.css": "text/css; charset=utf-8",
          "history.js": "text/javascript; charset=utf-8", "viewer.js": "text/javascript; charset=utf-8",
          "dom.js": "text/javascript; charset=utf-8"}
MAX_LOGIN_BODY = 4096


def _asset(name: str) -> str:
    return resources.files("proxy.dashboard").joinpath(name).read_text(encoding="utf-8")


def secure(response: Response) -> Response:
    response.headers.update(SECURITY_HEADERS)
    return response


def session_of(request: Request, sessions: Sessions) -> Session | None:
    return sessions.get(request.cookies.get(COOKIE_NAME))


def cross_site(request: Request) -> bool:
    """True when the browser tells us this request comes from another origin (CSRF from a web page)."""
    site = request.headers.get("sec-fetch-site")
    if site is not None and site not in ("same-origin", "none"):
        return True
    origin = request.headers.get("origin")
    if origin is None:
        return False  # non-browser clients (curl, httpx) send none; they need the token or the CSRF header
    return origin != f"{request.url.scheme}://{request.headers.get('host', '')}"


def csrf_problem(request: Request, session: Session) -> str | None:
    """Why a session-authenticated state change is refused, or None when it is fine."""
    if cross_site(request):
        return "cross-site request refused (Origin/Sec-Fetch-Site is not this dashboard)"
    if not Sessions.csrf_ok(session, request.headers.get(CSRF_HEADER)):
        return f"missing or wrong {CSRF_HEADER} header; reload the dashboard page and try again"
    return None


def dashboard_routes(state, sessions: Sessions, *, data: DashboardData | None = None,
                     bearer_ok=lambda request: False) -> list[Route]:
    """Routes for create_admin_app. `bearer_ok(request)` lets scripts read /ui/data with the token too."""
    data = data or DashboardData(state)
    build_lock = data.lock  # one build at a time (the drill-down builds too): the metrics window is not thread-safe
    login_tpl, page_tpl = Template(_asset("login.html")), Template(_asset("page.html"))

    def login_page(message: str = "", status: int = 200) -> Response:
        note = f'<p class="login-error" role="alert">{html.escape(message)}</p>' if message else ""
        return secure(HTMLResponse(login_tpl.substitute(message=note), status_code=status))

    async def root(request: Request) -> Response:
        return secure(RedirectResponse("/ui", status_code=303))

    async def page(request: Request) -> Response:
        session = session_of(request, sessions)
        if session is None:
            return secure(RedirectResponse("/ui/login", status_code=303))
        return secure(HTMLResponse(page_tpl.substitute(csrf=html.escape(session.csrf, quote=True))))

    async def login_form(request: Request) -> Response:
        if session_of(request, sessions) is not None:
            return secure(RedirectResponse("/ui", status_code=303))
        return login_page()

    async def login(request: Request) -> Response:
        client = request.client.host if request.client else "?"
        if cross_site(request):
            return login_page("Cross-site login refused.", 403)
        body = await request.body()
        fields = parse_qs(body[:MAX_LOGIN_BODY].decode("utf-8", errors="replace"))
        token = (fields.get("token") or [""])[0].strip()
        if not token or not sessions.token_matches(token):  # the right token is never delayed nor refused
            delay = sessions.login_failed(client)
            if delay is None:
                return login_page("Too many failed attempts at once from your address; wait and try again.", 429)
            try:
                await asyncio.sleep(delay)  # doubles with this address's recent failures (bounded)
            finally:
                sessions.answered(client)
            return login_page("That token is not the admin token (STRANGLER_ADMIN_TOKEN of the façade).", 401)
        sessions.drop(request.cookies.get(COOKIE_NAME))
        cookie, _ = sessions.create()
        response = secure(RedirectResponse("/ui", status_code=303))
        response.set_cookie(COOKIE_NAME, cookie, max_age=int(sessions.max_age_s), path="/", httponly=True,
                            samesite="strict", secure=request.url.scheme == "https")
        return response

    async def logout(request: Request) -> Response:
        session = session_of(request, sessions)
        if session is not None:
            fields = parse_qs((await request.body())[:MAX_LOGIN_BODY].decode("utf-8", errors="replace"))
            given = (fields.get("csrf") or [""])[0]
            if cross_site(request) or not Sessions.csrf_ok(session, given):
                return secure(JSONResponse({"error": "csrf", "status": 403, "message": "logout needs the page's "
                                            "CSRF token; use the Log out button"}, status_code=403))
            sessions.drop(request.cookies.get(COOKIE_NAME))
        response = secure(RedirectResponse("/ui/login", status_code=303))
        response.delete_cookie(COOKIE_NAME, path="/", httponly=True, samesite="strict")
        return response

    async def poll(request: Request) -> Response:
        if session_of(request, sessions) is None and not bearer_ok(request):
            return secure(JSONResponse({"error": "unauthorized", "status": 401, "message": "log in at /ui/login "
                                        "(or send 'Authorization: Bearer <token>')"}, status_code=401))

        def build() -> dict:
            with build_lock:
                return data.build()
        return secure(JSONResponse(await asyncio.to_thread(build)))

    async def static(request: Request) -> Response:
        name = request.path_params["name"]
        if name not in STATIC:
            return secure(JSONResponse({"error": "not_found", "status": 404,
                                        "message": f"no dashboard file {name!r}"}, status_code=404))
        response = secure(Response(_asset(name), media_type=STATIC[name]))
        response.headers["Cache-Control"] = "no-cache"
        return response

    from proxy.dashboard.views import detail_routes  # it imports this module's helpers

    return [
        Route("/", root, methods=["GET"]),
        Route("/ui", page, methods=["GET"]),
        Route("/ui/login", login_form, methods=["GET"]),
        Route("/ui/login", login, methods=["POST"]),
        Route("/ui/logout", logout, methods=["POST"]),
        Route("/ui/data", poll, methods=["GET"]),
        Route("/ui/static/{name}", static, methods=["GET"]),
        *detail_routes(state, sessions, data, bearer_ok),
        history_route(state, lambda r: session_of(r, sessions) is not None or bearer_ok(r), secure),
    ]
