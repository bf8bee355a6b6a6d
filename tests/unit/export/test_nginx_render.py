"""Renderer: template -> regex agrees with the façade's matcher; golden snippets; percent edges; errors."""
from __future__ import annotations

import re

import pytest

from proxy.matcher import Matcher
from proxy.table import parse_table, parse_template
from strangler.export.cohorts import hundredths, murmur2, nginx_in_target, percent_label
from strangler.export.matching import (
    escape_literal,
    ordered_rules,
    path_regex,
    rule_regex,
)
from strangler.export.nginx import ExportError, NginxOptions, q, render

TABLE = """
upstreams:
  legacy: {url: "http://127.0.0.1:5000"}
  svc: {url: "http://127.0.0.1:8101", dry_run_writes: true}
  plain: {url: "http://127.0.0.1:8102"}
default: legacy
features:
  a: {target: svc, state: %s, canary_percent: %s, routes: [{methods: [GET, POST], path: "/api/a/{id}"}]}
  b: {target: plain, state: shadow, routes: [{methods: [GET, POST], path: "/api/b.v1/{rest:path}"},
                                            {methods: [GET], path: "/api/a/special"}]}
  c: {target: svc, state: retired, routes: [{methods: ["*"], path: "/"}]}
"""
PATHS = ["/", "//", "/api/a/1", "/api/a/1/", "/api/a/", "/api/a//", "/api/a", "/api/a/special", "/api/a/special/",
         "/api/a/x%2Fy", "/api/a/1/2", "/api/b.v1", "/api/b.v1/", "/api/b.v1//", "/api/b.v1/x/y/z", "/api/bXv1/x",
         "/api/a/1?q=2", "/x"]


def table(state: str = "new", percent: float = 0):
    return parse_table(TABLE % (state, percent))


def decision_lines(text: str) -> list[tuple[str, str]]:
    block = text.split("$strangler_decision {", 1)[1].split("}\n", 1)[0]
    return re.findall(r'^\s+"~(.*)" "(.*)";$', block.replace('\\\\', '\\'), re.MULTILINE)


@pytest.mark.parametrize("method", ["GET", "HEAD", "POST", "DELETE"])
@pytest.mark.parametrize("path", PATHS)
def test_first_matching_regex_is_the_facades_route(method: str, path: str) -> None:
    t = table()
    hit = Matcher(t).match(method, path)
    raw = path.split("?", 1)[0]
    first = next((r for r in ordered_rules(t) if re.search(rule_regex(r.methods, r.route.template),
                                                            f"{method} {raw}")), None)
    got = (first.feature, first.route.path) if first else None
    assert got == ((hit.feature, hit.route.path) if hit else None)


def test_template_regexes_and_escaping() -> None:
    assert path_regex(parse_template("/")) == "/"
    assert path_regex(parse_template("/a/{id}")) == r"/a/(?:[^/]+/?|/)"
    assert path_regex(parse_template("/a/{id}/b")) == r"/a/[^/]*/b/?"
    assert path_regex(parse_template("/s/{rest:path}")) == "/s/.+"
    assert escape_literal('v1.0+(x)$"') == r'v1\.0\+\(x\)\$\"'
    assert q('a"b\\c') == r'"a\"b\\c"'


def test_golden_snippets_shadow_retired_and_new() -> None:
    text = render(table(), NginxOptions(comparator="http://127.0.0.1:8091"))
    lines = decision_lines(text)
    # literal /api/a/special (feature b, shadow) comes before /api/a/{id}; a POST there falls through to a,
    # whose writes legacy still owns
    assert lines[0] == (r"^GET /api/a/special/?$", "f1s")
    assert (r"^GET /api/a/(?:[^/]+/?|/)$", "f0n") in lines and (r"^POST /api/a/(?:[^/]+/?|/)$", "f0l") in lines
    # b targets a service WITHOUT dry_run_writes: writes stay on legacy, unmirrored
    assert (r"^POST /api/b\.v1/.+$", "f1l") in lines
    assert lines[-1] == ("^[^ ]+ /$", "f2t")
    assert "upstream strangler_up_svc {\n    server 127.0.0.1:8101;" in text
    assert "mirror /_strangler_mirror/f1;\n        mirror_request_body off;" in text
    assert "error_page 502 504 = @strangler_fallback_f0n;" in text
    assert 'proxy_set_header X-Strangler-Mirror-Feature "b";' in text
    assert "client_max_body_size 10485760;" in text


@pytest.mark.parametrize(("state", "owner", "read", "write"), [
    ("legacy", "service", "f0l", "f0t"), ("shadow", "service", "f0s", "f0t"), ("new", "service", "f0n", "f0t"),
    ("canary", "legacy", "f0$strangler_canary_5000", "f0l"), ("new", "legacy", "f0n", "f0l")])
def test_writes_go_to_their_owner_as_in_the_facade(state: str, owner: str, read: str, write: str) -> None:
    text = (TABLE % (state, 50 if state == "canary" else 0)).replace(
        f"state: {state},", f"state: {state}, writes_owner: {owner},", 1)
    lines = decision_lines(render(parse_table(text), NginxOptions(comparator="http://127.0.0.1:8091")))
    assert (r"^GET /api/a/(?:[^/]+/?|/)$", read) in lines and (r"^POST /api/a/(?:[^/]+/?|/)$", write) in lines


def test_dry_run_target_mirrors_writes_with_body() -> None:
    text = render(table("shadow"), NginxOptions(comparator="http://127.0.0.1:8091"))
    assert (r"^POST /api/a/(?:[^/]+/?|/)$", "f0w") in decision_lines(text)
    assert "mirror /_strangler_mirror/f0w;\n        mirror_request_body on;" in text


@pytest.mark.parametrize(("percent", "value"), [(100, "f0t"), (0.01, "f0$strangler_canary_1"),
                                                (12.345, "f0$strangler_canary_1235"), (50, "f0$strangler_canary_5000")])
def test_canary_percent_edges(percent: float, value: str) -> None:
    text = render(table("canary", percent), NginxOptions(comparator="http://127.0.0.1:8091"))
    assert decision_lines(text)[1][1] == value
    share = hundredths(percent)
    if share < 10_000:
        assert f"split_clients \"$strangler_cohort_key\" $strangler_canary_{share} {{\n    " \
               f"{percent_label(percent)} t;" in text
    else:
        assert "split_clients" not in text


def test_cohort_key_header_then_cookie_then_address() -> None:
    t = parse_table(TABLE.replace("default: legacy", "default: legacy\ncohort: {header: X-User, cookie: sid}")
                    % ("canary", 10))
    text = render(t, NginxOptions(comparator="http://127.0.0.1:8091"))
    assert 'map $http_x_user $strangler_cohort_key {\n    "" $strangler_cohort_nohdr;\n    default "h:$http_x_user";' \
        in text
    assert 'map $cookie_sid $strangler_cohort_nohdr {\n    "" "a:$remote_addr";\n    default "c:$cookie_sid";' in text


def test_murmur_split_model() -> None:
    assert murmur2(b"") == 0 and murmur2(b"abc") != murmur2(b"abd")
    assert percent_label(0.5) == "0.50%" and percent_label(100) == "100.00%"
    assert all(nginx_in_target(f"h:{i}", 100) for i in range(50))
    assert not any(nginx_in_target(f"h:{i}", 0) for i in range(50))
    keys = [f"h:k{i}" for i in range(4000)]
    low = {k for k in keys if nginx_in_target(k, 10)}
    assert low <= {k for k in keys if nginx_in_target(k, 40)}  # raising a percentage only adds users
    assert abs(len(low) / len(keys) - 0.10) < 0.02


@pytest.mark.parametrize(("opts", "needle"), [
    (NginxOptions(), "no comparator"), (NginxOptions(listen="0.0.0.0:80", comparator="http://127.0.0.1:1"), "loopback"),
    (NginxOptions(comparator="http://10.0.0.1:1"), "loopback")])
def test_bad_options_are_clear_errors(opts: NginxOptions, needle: str) -> None:
    with pytest.raises(ExportError, match=needle):
        render(table("shadow"), opts)


def test_unexportable_names_are_refused() -> None:
    t = parse_table(TABLE.replace("  a: {", '  "a b": {') % ("new", 0))
    with pytest.raises(ExportError, match=r"feature name 'a b'.*Fix"):
        render(t, NginxOptions(comparator="http://127.0.0.1:8091"))
