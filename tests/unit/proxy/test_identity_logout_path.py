"""Which responses log a caller out of the façade's identity cache (proxy.identity.LOGOUT_PATH and the addon's
Set-Cookie scan): the six logout spellings in any case, a cookie being deleted; nothing else."""
from __future__ import annotations

import pytest

from proxy.addons.identity import _clears_a_cookie
from proxy.identity import LOGOUT_PATH


@pytest.mark.parametrize("path", [b"/logout", b"/auth/log-out?next=/", b"/LOG_OUT", b"/users/SignOut", b"/sign-out",
                                  b"/api/sign_out/now", b"/blog_output"])  # a substring: errs towards dropping
def test_logout_paths_match(path: bytes) -> None:
    assert LOGOUT_PATH.search(path)


@pytest.mark.parametrize("path", [b"/", b"/login", b"/logs/outbound", b"/api/orders", b"/log--out", b"/sign out"])
def test_other_paths_do_not(path: bytes) -> None:
    assert LOGOUT_PATH.search(path) is None


def test_a_deleted_cookie_in_any_header_spelling_is_a_logout() -> None:
    keep = ((b"Content-Type", b"text/html"), (b"Set-Cookie", b"session=abc; Path=/; HttpOnly"))
    assert not _clears_a_cookie(keep)
    assert not _clears_a_cookie(((b"X-Set-Cookie", b"session=; Max-Age=0"),))
    for name in (b"Set-Cookie", b"set-cookie", b"SET-COOKIE"):
        assert _clears_a_cookie((*keep, (name, b"session=; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=0")))
