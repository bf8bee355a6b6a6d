"""Render a RouteTable as nginx configuration with the façade's routing semantics (pure: table -> text).

Layout (http{} level; `standalone=True` wraps it in a complete nginx.conf):
- one `upstream` per table upstream (keepalive pool) — the ONLY places requests can go: no open proxy;
- `map "$request_method $raw_path" $strangler_decision`: one regex per route, in the façade's search order
  (see matching.py), whose value names a decision; canary values embed a `split_clients` variable;
- `location /` rewrites every request to an internal decision location `/_strangler/<id>`, where all is
  static: which upstream, the X-Served-By / X-Strangler-Feature headers, `mirror` for shadow, and for
  state `new` the GET/HEAD fallback to legacy (`error_page 502 504 = @fallback`, see `_fallback`).
The original raw request line (`$request_uri`) is what every upstream receives, as with the façade.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from proxy.table import RouteTable, State, Upstream, WritesOwner
from strangler.export.cohorts import hundredths, percent_label
from strangler.export.matching import ordered_rules, rule_regex, split_reads, split_safe

_NAME = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
_HEADER = re.compile(r"^[A-Za-z0-9-]{1,64}$")
_COOKIE = re.compile(r"^[A-Za-z0-9_]{1,64}$")
_LISTEN = re.compile(r"^(127(?:\.\d{1,3}){3}|\[::1\]|localhost):(\d{1,5})$")
_MIRROR_FEATURE_HEADER = "X-Strangler-Mirror-Feature"
MIRROR_FEATURE_HEADER = _MIRROR_FEATURE_HEADER


class ExportError(ValueError):
    """The table (or an option) cannot be expressed in nginx; the message names the problem and the fix."""


@dataclass(frozen=True)
class NginxOptions:
    listen: str = "127.0.0.1:8088"
    comparator: str | None = None  # loopback base URL of proxy/comparator.py; required when a feature shadows
    standalone: bool = False  # a complete nginx.conf (tests, quick starts) instead of an http{} include
    source: str = "<table>"
    keepalive: int = 64


def q(text: str) -> str:
    """nginx double-quoted string (backslash and quote escaped)."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _check_name(kind: str, name: str) -> str:
    if not _NAME.match(name):
        raise ExportError(f"{kind} name {name!r} cannot be exported to nginx (it becomes a header value and "
                          f"an identifier). Fix: rename it using letters, digits, '.', '_' or '-'")
    return name


def group(name: str) -> str:
    return "strangler_up_" + re.sub(r"[^A-Za-z0-9_]", "_", name)


def host_header(up: Upstream) -> str:
    host = f"[{up.host}]" if ":" in up.host else up.host
    default = 443 if up.scheme == "https" else 80
    return host if up.port == default else f"{host}:{up.port}"


def _ms(seconds: float) -> str:
    return f"{max(1, round(seconds * 1000))}ms"


def _comparator_server(url: str) -> str:
    m = re.match(r"^http://(127(?:\.\d{1,3}){3}|\[::1\]|localhost):(\d{1,5})/?$", url)
    if not m:
        raise ExportError(f"comparator URL {url!r} is not a loopback http URL. "
                          "Fix: pass --comparator http://127.0.0.1:PORT")
    return f"{m.group(1)}:{m.group(2)}"


# ---------------------------------------------------------------------------------------------- decisions
@dataclass(frozen=True)
class Decision:
    """One internal location: who serves, which feature header, mirror or fallback."""

    id: str
    upstream: str
    feature: str | None = None
    mirror: str | None = None  # mirror location id
    mirror_body: bool = False
    fallback: str | None = None  # legacy upstream for GET/HEAD when the target fails (state new)


def _decisions(table: RouteTable) -> tuple[list[tuple[str, str]], dict[str, Decision]]:
    """(map lines [(regex, value)], decisions by id)."""
    legacy = table.default
    decisions: dict[str, Decision] = {"d": Decision("d", legacy)}
    lines: list[tuple[str, str]] = []
    fid = {name: f"f{i}" for i, name in enumerate(table.features)}
    for_state = {State.LEGACY: legacy, State.SHADOW: legacy}  # where each state sends writes (canary: both)
    for rule in ordered_rules(table):
        name, feat = rule.feature, table.features[rule.feature]
        f, target = fid[name], feat.target
        methods, groups = rule.methods, []
        reads, writes = split_reads(rule.methods)
        # one owner per write (as proxy/addons/routing.py): writes the state would send elsewhere go to the owner
        owner = legacy if feat.writes_owner is WritesOwner.LEGACY and feat.state is not State.RETIRED else target
        if writes and for_state.get(feat.state, None if feat.state is State.CANARY else target) != owner:
            key = f + ("l" if owner == legacy else "t")
            decisions[key] = Decision(key, owner, name)
            methods, owned = reads, [(writes, key)]
        else:
            owned = []
        safe, unsafe = split_safe(methods)
        template = rule.route.template
        if not methods:
            pass  # every method of the rule is a write, routed to its owner below
        elif feat.state is State.LEGACY:
            decisions[f + "l"] = Decision(f + "l", legacy, name)
            groups.append((methods, f + "l"))
        elif feat.state is State.SHADOW:
            decisions[f + "s"] = Decision(f + "s", legacy, name, mirror=f, mirror_body=False)
            decisions[f + "l"] = Decision(f + "l", legacy, name)
            if safe:
                groups.append((safe, f + "s"))
            if unsafe:
                dry = table.upstreams[target].dry_run_writes
                if dry:
                    decisions[f + "w"] = Decision(f + "w", legacy, name, mirror=f + "w", mirror_body=True)
                groups.append((unsafe, f + "w" if dry else f + "l"))
        elif feat.state is State.CANARY:
            share = hundredths(feat.canary_percent)
            decisions[f + "l"] = Decision(f + "l", legacy, name)
            decisions[f + "t"] = Decision(f + "t", target, name)
            value = f + "t" if share >= 10_000 else (f + "l" if share <= 0 else f + f"$strangler_canary_{share}")
            groups.append((methods, value))
        else:  # new (GET/HEAD fall back to legacy when the target fails), retired (target only)
            decisions[f + "t"] = Decision(f + "t", target, name)
            if feat.state is State.NEW and safe:
                decisions[f + "n"] = Decision(f + "n", target, name, fallback=legacy)
                groups.append((safe, f + "n"))
                if unsafe:
                    groups.append((unsafe, f + "t"))
            else:
                groups.append((methods, f + "t"))
        lines += [(rule_regex(group, template), value) for group, value in groups + owned]
    return lines, decisions


def canary_shares(table: RouteTable) -> list[int]:
    return sorted({hundredths(f.canary_percent) for f in table.features.values()
                   if f.state is State.CANARY and 0 < hundredths(f.canary_percent) < 10_000})


# ---------------------------------------------------------------------------------------------- text
def _cohort_block(table: RouteTable) -> list[str]:
    c = table.cohort
    if c.cookie and not _COOKIE.match(c.cookie):
        raise ExportError(f"cohort cookie {c.cookie!r} cannot be read by nginx ($cookie_NAME). "
                          "Fix: use a cookie name of letters, digits and '_'")
    if c.header and not _HEADER.match(c.header):
        raise ExportError(f"cohort header {c.header!r} is not a plain header name. Fix: use letters, digits, '-'")
    fallback = f'"c:$cookie_{c.cookie}"' if c.cookie else None
    out = []
    if c.cookie:
        out += [f"map $cookie_{c.cookie} $strangler_cohort_nohdr {{", '    "" "a:$remote_addr";',
                f"    default {fallback};", "}"]
    else:
        out += ["map $remote_addr $strangler_cohort_nohdr {", '    default "a:$remote_addr";', "}"]
    if c.header:
        var = "$http_" + c.header.lower().replace("-", "_")
        out += [f"map {var} $strangler_cohort_key {{", '    "" $strangler_cohort_nohdr;',
                f'    default "h:{var}";', "}"]
    else:
        out += ["map $strangler_cohort_nohdr $strangler_cohort_key {", "    default $strangler_cohort_nohdr;", "}"]
    for share in canary_shares(table):
        out += [f'split_clients "$strangler_cohort_key" $strangler_canary_{share} {{',
                f"    {percent_label(share / 100)} t;", "    * l;", "}"]
    return out


_HEADER_MAPS = r"""# raw path (no query): the façade matches the path as sent, not nginx's normalised $uri
map $request_uri $strangler_path {
    "~^(?<strangler_p>[^?#]*)" $strangler_p;
}
# X-Request-ID: the client's when it looks like an id, else nginx's $request_id
map $http_x_request_id $strangler_request_id {
    "~^[A-Za-z0-9._:\\-]{8,128}$" $http_x_request_id;
    default $request_id;
}
# X-Forwarded-Host: the client's Host only when it is a plain host[:port]
map $http_host $strangler_forwarded_host {
    "~^(?:[A-Za-z0-9.\\-]{1,253}|\\[[0-9A-Fa-f:.]+\\])(?::[0-9]{1,5})?$" $http_host;
    default "";
}
# W3C trace context: continue a valid traceparent with a new span id, else start a trace
map $request_id $strangler_span {
    "~(?<strangler_s>[0-9a-f]{16})$" $strangler_s;
}
map $http_traceparent $strangler_traceparent {
    "~^(?!ff)[0-9a-f]{2}-(?!0{32})(?<strangler_tt>[0-9a-f]{32})-(?!0{16})[0-9a-f]{16}-(?<strangler_tf>[0-9a-f]{2})$" "00-$strangler_tt-$strangler_span-$strangler_tf";
    default "00-$request_id-$strangler_span-01";
}
map $http_traceparent $strangler_tracestate {
    "~^(?!ff)[0-9a-f]{2}-(?!0{32})[0-9a-f]{32}-(?!0{16})[0-9a-f]{16}-[0-9a-f]{2}$" $http_tracestate;
    default "";
}"""

# proxy_set_header is inherited only by levels that set none of their own, so every proxying location
# carries the whole list (rendered by _set_headers) rather than relying on server-level inheritance.
_SET_HEADERS = (("Connection", '""'), ("X-Request-ID", "$strangler_request_id"),
                ("traceparent", "$strangler_traceparent"), ("tracestate", "$strangler_tracestate"),
                ("X-Forwarded-For", "$remote_addr"), ("X-Forwarded-Proto", "$scheme"),
                ("X-Forwarded-Host", "$strangler_forwarded_host"), ("X-Forwarded-Port", '""'),
                ("Forwarded", '""'), ("X-Real-IP", '""'), ("Proxy-Connection", '""'),
                ("Proxy-Authorization", '""'), ("Trailer", '""'), (_MIRROR_FEATURE_HEADER, '""'))

_PROXY_COMMON = """    proxy_http_version 1.1;
    proxy_hide_header X-Request-ID;
    proxy_hide_header X-Served-By;
    proxy_hide_header X-Strangler-Feature;
    proxy_hide_header Proxy-Authenticate;
    proxy_hide_header Trailer;
    proxy_pass_header Server;
    proxy_pass_header Date;
    proxy_redirect off;
    proxy_intercept_errors off;
    error_page 413 /_strangler_error/413;
    error_page 502 /_strangler_error/502;
    error_page 504 /_strangler_error/504;"""


def _set_headers(host: str, indent: str = "        ", **override: str) -> list[str]:
    values = dict(_SET_HEADERS, Host=host, **override)
    return [f"{indent}proxy_set_header {name} {value};" for name, value in values.items()]


_ERRORS = {413: ("payload_too_large", "request body exceeds the façade limit (limits.max_body_bytes)"),
           502: ("upstream_unavailable", "the upstream could not be reached"),
           504: ("upstream_timeout", "the upstream did not answer in time")}


def _proxy_to(table: RouteTable, upstream: str, feature: str | None, indent: str = "        ") -> list[str]:
    up = table.upstreams[upstream]
    lines = [f"proxy_pass {up.scheme}://{group(upstream)}$request_uri;",
             f"proxy_connect_timeout {_ms(up.timeout_s)};", f"proxy_send_timeout {_ms(up.timeout_s)};",
             f"proxy_read_timeout {_ms(up.timeout_s)};",
             "add_header X-Request-ID $strangler_request_id always;",
             f"add_header X-Served-By {q(upstream)} always;"]
    if up.scheme == "https":
        lines += ["proxy_ssl_server_name on;", f"proxy_ssl_name {q(up.host)};"]
    if feature:
        lines.append(f"add_header X-Strangler-Feature {q(feature)} always;")
    return [indent + line for line in lines] + _set_headers(q(host_header(up)), indent)


def _location(table: RouteTable, d: Decision) -> list[str]:
    out = [f"    location = /_strangler/{d.id} {{", "        internal;"]
    if d.mirror:
        out += [f"        mirror /_strangler_mirror/{d.mirror};",
                f"        mirror_request_body {'on' if d.mirror_body else 'off'};"]
    if d.fallback:
        out += ["        error_page 413 /_strangler_error/413;",
                f"        error_page 502 504 = @strangler_fallback_{d.id};"]
    out += _proxy_to(table, d.upstream, d.feature) + ["    }"]
    if d.fallback:
        out += [f"    location @strangler_fallback_{d.id} {{",
                *_proxy_to(table, d.fallback, d.feature),
                "        add_header X-Strangler-Fallback target_failed always;", "    }"]
    return out


def _mirror_location(mid: str, feature: str, with_body: bool) -> list[str]:
    out = [f"    location = /_strangler_mirror/{mid} {{", "        internal;",
           "        proxy_pass http://strangler_comparator$request_uri;",
           *_set_headers("$host", **{_MIRROR_FEATURE_HEADER: q(feature)}),
           "        proxy_connect_timeout 1s;", "        proxy_send_timeout 5s;", "        proxy_read_timeout 5s;"]
    if not with_body:
        out += ["        proxy_pass_request_body off;", '        proxy_set_header Content-Length "";']
    return out + ["    }"]


def render(table: RouteTable, options: NginxOptions = NginxOptions()) -> str:
    """The whole configuration text. Raises ExportError for what nginx cannot express faithfully."""
    m = _LISTEN.match(options.listen)
    if not m:
        raise ExportError(f"--listen {options.listen!r} is not a loopback HOST:PORT. Fix: e.g. 127.0.0.1:8088")
    for name in table.upstreams:
        _check_name("upstream", name)
    for name in table.features:
        _check_name("feature", name)
    lines, decisions = _decisions(table)
    mirrors = {d.mirror: (d.feature, d.mirror_body) for d in decisions.values() if d.mirror}
    if mirrors and not options.comparator:
        raise ExportError("a feature is in state shadow but no comparator was given. "
                          "Fix: pass --comparator http://127.0.0.1:PORT (run `python -m proxy.comparator`)")
    out = [f"# generated by `strangler export nginx` from {options.source} - do not edit by hand;",
           "# re-export and `nginx -s reload` after every flip (the façade hot-reloads, nginx does not).", ""]
    for name, up in table.upstreams.items():
        host = f"[{up.host}]" if ":" in up.host else up.host
        out += [f"upstream {group(name)} {{", f"    server {host}:{up.port};",
                f"    keepalive {options.keepalive};", "}"]
    if mirrors:
        out += ["upstream strangler_comparator {", f"    server {_comparator_server(options.comparator or '')};",
                "    keepalive 16;", "}"]
    out += ["", _HEADER_MAPS, ""]
    out += _cohort_block(table) + [""]
    out += ['# route table: first matching regex wins, in the façade\'s order (literal > {param} > {rest:path})',
            'map "$request_method $strangler_path" $strangler_decision {', "    default d;"]
    out += [f"    {q('~' + rx)} {q(value)};" for rx, value in lines]
    out += ["}", "", "server {", f"    listen {options.listen};", "    server_name _;",
            f"    client_max_body_size {table.limits.max_body_bytes};", "    server_tokens off;",
            _PROXY_COMMON, "", "    location / {", "        rewrite ^ /_strangler/$strangler_decision last;", "    }"]
    for d in decisions.values():
        out += _location(table, d)
    for mid, (feature, body) in mirrors.items():
        out += _mirror_location(mid, feature or "", body)
    for status, (code, message) in _ERRORS.items():
        error = (f'{{"error": "{code}", "status": {status}, "message": "{message}", '
                 '"request_id": "$strangler_request_id"}')
        out += [f"    location = /_strangler_error/{status} {{", "        internal;",
                "        default_type application/json;",
                "        add_header X-Request-ID $strangler_request_id always;",
                "        add_header X-Served-By facade always;",
                '        add_header Cache-Control "no-store" always;',
                f"        return {status} {q(error)};", "    }"]
    out += ["}"]
    text = "\n".join(out) + "\n"
    return _standalone(text) if options.standalone else text


def _standalone(http_body: str) -> str:
    """A complete nginx.conf for `nginx -p <dir> -c <file>`: every path relative to the prefix."""
    indented = "\n".join(("    " + line) if line else line for line in http_body.splitlines())
    return f"""worker_processes 1;
pid nginx.pid;
error_log error.log warn;
events {{
    worker_connections 1024;
}}
http {{
    access_log off;
    client_body_temp_path tmp/body;
    proxy_temp_path tmp/proxy;
    fastcgi_temp_path tmp/fastcgi;
    uwsgi_temp_path tmp/uwsgi;
    scgi_temp_path tmp/scgi;
    default_type application/octet-stream;
{indented}
}}
"""
