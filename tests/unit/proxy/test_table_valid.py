"""Valid tables load into the models the data plane uses; templates are parsed once, matching is exact."""
from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from proxy.table import (
    PathTemplate,
    RouteSpec,
    RouteTable,
    Segment,
    State,
    TableError,
    load_table,
    parse_table,
    parse_template,
    split_path,
)
from tests.unit.route_table_fixtures import TABLE

REPO = Path(__file__).resolve().parents[3]


def test_valid_table_loads_with_defaults():
    table = parse_table(TABLE)
    assert table.default == "old"
    assert list(table.upstreams) == ["old", "alpha", "beta"]
    alpha = table.upstreams["alpha"]
    assert (alpha.scheme, alpha.host, alpha.port, alpha.dry_run_writes) == ("http", "127.0.0.1", 8101, True)
    assert alpha.health == "/healthz" and alpha.breaker.failure_threshold == 5 and alpha.timeout_s == 10.0
    one, two = table.features["one"], table.features["two"]
    assert one.state is State.LEGACY and one.canary_percent == 0
    assert two.state is State.SHADOW and two.canary_percent == 25
    assert one.routes[0].methods == ["GET"] and two.routes[0].methods == ["*"]
    assert table.cohort.header == "X-Strangler-Cohort" and table.limits.max_body_bytes == 10 * 1024 * 1024
    assert one.parity.sample_rate == 1.0 and one.rollback.min_samples == 200


def test_methods_are_upper_cased_and_default_to_safe_ones():
    assert RouteSpec(path="/x", methods=["get", "Post", "get"]).methods == ["GET", "POST"]
    assert RouteSpec(path="/x").methods == ["GET", "HEAD"]


def test_table_is_immutable_snapshot():
    table = parse_table(TABLE)
    with pytest.raises(ValidationError):
        table.default = "alpha"


def test_direct_construction_runs_the_same_cross_checks():
    with pytest.raises(ValidationError, match="unknown upstream 'nope'"):
        RouteTable(upstreams={"a": {"url": "http://127.0.0.1:1"}}, default="nope")


def test_https_default_port_and_trailing_slash_url():
    table = parse_table(TABLE.replace('"http://127.0.0.1:8102"', '"https://localhost/"'))
    beta = table.upstreams["beta"]
    assert (beta.url, beta.port, beta.host) == ("https://localhost", 443, "localhost")


def test_remote_upstreams_need_explicit_opt_in():
    text = TABLE.replace("http://127.0.0.1:8102", "http://example.com:8102")
    with pytest.raises(TableError):
        parse_table(text)
    assert parse_table("allow_remote_upstreams: true\n" + text).upstreams["beta"].host == "example.com"


def test_same_route_in_one_feature_twice_is_not_a_conflict():
    text = TABLE.replace('"/api/things"}', '"/api/things"}\n      - {methods: [GET], path: "/api/things"}')
    assert len(parse_table(text).features["one"].routes) == 3


def test_different_methods_on_same_path_may_belong_to_different_features():
    text = TABLE.replace('"/api/widgets/{rest:path}"}', '"/api/widgets/{rest:path}"}\n'
                         '      - {methods: [DELETE], path: "/api/things/{other}"}')
    assert parse_table(text).features["two"].routes[1].template.shape == \
        parse_table(TABLE).features["one"].routes[1].template.shape


def test_parse_template_segments():
    tpl = parse_template("/api/things/{id}/files/{rest:path}")
    assert tpl.segments == (Segment("literal", "api"), Segment("literal", "things"), Segment("param", "id"),
                            Segment("literal", "files"), Segment("rest", "rest"))
    assert parse_template("/").segments == ()
    assert parse_template("/a/{x}").shape == parse_template("/a/{y}").shape
    assert parse_template("/a/{x}").shape != parse_template("/a/b").shape


@pytest.mark.parametrize(("template", "path", "expected"), [
    ("/api/things", "/api/things", {}),
    ("/api/things", "/api/things/", {}),
    ("/api/things", "/api/things?page=2", {}),
    ("/api/things", "/api/things/1", None),
    ("/api/things/{id}", "/api/things/42", {"id": "42"}),
    ("/api/things/{id}", "/api/things", None),
    ("/api/things/{id}", "/api/things/42/x", None),
    ("/api/things/{id}", "/api/other/42", None),
    ("/s/{rest:path}", "/s/a/b/c.css", {"rest": "a/b/c.css"}),
    ("/s/{rest:path}", "/s", None),
    ("/", "/", {}),
    ("/", "/x", None),
])
def test_template_match(template, path, expected):
    assert parse_template(template).match(path) == expected


def test_split_path_and_specificity_order():
    assert split_path("/a/b/?q=1") == ("a", "b")
    templates = [parse_template(p) for p in ("/a/{rest:path}", "/a/{id}", "/a/b")]
    ordered = sorted(templates, key=lambda t: t.specificity, reverse=True)
    assert [t.raw for t in ordered] == ["/a/b", "/a/{id}", "/a/{rest:path}"]


def test_route_spec_exposes_its_parsed_template():
    spec = parse_table(TABLE).features["one"].routes[1]
    assert isinstance(spec.template, PathTemplate) and spec.template.match("/api/things/7") == {"id": "7"}


def test_the_demo_table_is_valid_and_all_legacy():
    table = load_table(REPO / "config" / "routes.yaml")
    assert table.default == "legacy"
    assert all(f.state is State.LEGACY for f in table.features.values())
    assert all(f.parity.ignore == [] for f in table.features.values())  # the walkthrough discovers them
    assert {n for n, u in table.upstreams.items() if u.dry_run_writes} == set(table.features)
