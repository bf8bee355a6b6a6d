"""The page and its script: escaped output, no HTML sinks, nothing loaded from another origin."""
from __future__ import annotations

import re
from importlib import resources

from dashboard_harness import TOKEN
from starlette.testclient import TestClient

from proxy.admin import create_admin_app
from proxy.dashboard.sessions import COOKIE_NAME, Sessions

ASSETS = resources.files("proxy.dashboard")


def test_page_escapes_what_it_renders_server_side(facade):
    sessions = Sessions(TOKEN)
    cookie, session = sessions.create()
    session.csrf = '"><script>alert(1)</script>'  # whatever the value, it must stay inside the attribute
    with TestClient(create_admin_app(facade.state, TOKEN, sessions=sessions), follow_redirects=False) as c:
        c.cookies.set(COOKIE_NAME, cookie)
        page = c.get("/ui").text
    assert "<script>alert(1)" not in page
    assert 'content="&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;"' in page


def test_scripts_use_no_html_sinks_no_eval_and_nothing_remote():
    from proxy.dashboard.web import STATIC

    scripts = [name for name in STATIC if name.endswith(".js")]
    assert {"app.js", "viewer.js", "dom.js"} <= set(scripts)
    for name in scripts:
        js = ASSETS.joinpath(name).read_text()
        for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function",
                     "setAttribute(\"on", "setAttribute('on"):
            assert sink not in js, (name, sink)
        assert not re.search(r"https?://(?!www\.w3\.org/2000/svg)", js), f"remote URL in {name}"
    for name in ("app.js", "viewer.js"):  # the two that write: the CSRF header on every POST
        assert "X-CSRF-Token" in ASSETS.joinpath(name).read_text()


def test_templates_have_no_inline_script_or_style_and_no_remote_assets():
    for name in ("page.html", "login.html"):
        text = ASSETS.joinpath(name).read_text()
        assert not re.search(r"<script(?![^>]*\bsrc=)", text), f"inline script in {name}"
        assert "<style" not in text and " style=" not in text and " on" + "click=" not in text
        assert not re.search(r"(src|href)=\"(https?:)?//", text), f"remote asset in {name}"
    css = ASSETS.joinpath("app.css").read_text()
    assert "url(" not in css and "@import" not in css


def test_data_is_json_and_never_html(client):
    client.post("/ui/login", data={"token": TOKEN})
    r = client.get("/ui/data")
    assert r.headers["content-type"].startswith("application/json")
    assert r.headers["cache-control"] == "no-store"
